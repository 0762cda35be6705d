/**
 * Authentication: API keys or JWTs. Each credential belongs to one staff member of the policy
 * bundle's directory and carries one role and a tenant scope; the scope is taken from the
 * credential (intersected with the staff member's own tenants), never from the request.
 *
 * 401: no credential, an unknown or malformed one, a bad signature, an expired token, or a staff
 * member the directory does not know. 403 (in routes): a valid credential whose role may not call
 * the route, or a tenant outside its scope.
 */
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { z } from 'zod';
import type { ApiKeyConfig } from './config.js';
import type { Directory } from './directory.js';
import { unauthorized } from './errors.js';
import { ROLES, type Role } from './roles.js';

export interface Principal {
  /** the credential's name (API key id, or `jwt:<jti or sub>`) for logs; never the secret */
  credentialId: string;
  kind: 'api_key' | 'jwt';
  staffId: string;
  name: string;
  department: string;
  role: Role;
  /** tenants this credential may read; `'*'` for all */
  tenants: '*' | string[];
}

export interface JwtOptions {
  /** HS256 shared secret */
  secret?: string | undefined;
  /** or a JWKS URL (RS256, ES256, EdDSA) */
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}

export interface AuthOptions {
  apiKeys: ApiKeyConfig[];
  jwt?: JwtOptions | undefined;
}

export type Authenticate = (req: Request) => Promise<Principal>;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const jwtClaims = z.object({
  sub: z.string().min(1),
  role: z.enum(ROLES),
  tenants: z.union([
    z
      .string()
      .min(1)
      .transform((t) => [t]),
    z.array(z.string().min(1)).min(1),
  ]),
  jti: z.string().optional(),
});

/** The credential's tenants narrowed to the staff member's own. */
export function effectiveTenants(credential: string[], staff: string[]): '*' | string[] {
  const credAll = credential.includes('*');
  const staffAll = staff.includes('*');
  if (credAll && staffAll) return '*';
  if (credAll) return [...staff];
  if (staffAll) return [...credential];
  return credential.filter((t) => staff.includes(t));
}

export function inScope(p: Principal, tenantId: string): boolean {
  return p.tenants === '*' || p.tenants.includes(tenantId);
}

/** Where a request carries its credential: `Authorization: Bearer …` or `X-API-Key`. */
export function presentedCredential(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string' && h.length > 0) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) throw unauthorized('the Authorization header must be "Bearer <API key or JWT>"');
    return m[1];
  }
  const k = req.headers['x-api-key'];
  if (typeof k === 'string' && k.length > 0) return k.trim();
  return undefined;
}

export function createAuthenticator(opts: AuthOptions, directory: Directory): Authenticate {
  const keys = new Map<string, ApiKeyConfig>();
  for (const k of opts.apiKeys) keys.set(k.sha256 ?? sha256(k.key as string), k);
  const jwt = opts.jwt;
  let getKey: Uint8Array | JWTVerifyGetKey | undefined;
  let algorithms: string[] = [];
  if (jwt?.secret) {
    getKey = new TextEncoder().encode(jwt.secret);
    algorithms = ['HS256', 'HS384', 'HS512'];
  } else if (jwt?.jwksUrl) {
    getKey = createRemoteJWKSet(new URL(jwt.jwksUrl));
    algorithms = ['RS256', 'PS256', 'ES256', 'EdDSA'];
  }

  const principal = (credentialId: string, kind: Principal['kind'], staffId: string, role: Role, tenants: string[]) => {
    const staff = directory.staff.get(staffId);
    if (!staff) throw unauthorized('the credential belongs to no staff member in the policy directory');
    return {
      credentialId,
      kind,
      staffId,
      name: staff.name,
      department: staff.department,
      role,
      tenants: effectiveTenants(tenants, staff.tenants),
    } satisfies Principal;
  };

  return async (req) => {
    const presented = presentedCredential(req);
    if (!presented) throw unauthorized('authentication required: send "Authorization: Bearer <API key or JWT>"');
    if (JWT_SHAPE.test(presented)) {
      if (!getKey) throw unauthorized('JWTs are not accepted by this server');
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(presented, getKey as Uint8Array, {
          algorithms,
          ...(jwt?.issuer ? { issuer: jwt.issuer } : {}),
          ...(jwt?.audience ? { audience: jwt.audience } : {}),
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (err) {
        const code = err && typeof err === 'object' && 'code' in err ? String(err.code) : '';
        throw unauthorized(code === 'ERR_JWT_EXPIRED' ? 'the token has expired' : 'the token is not valid');
      }
      const claims = jwtClaims.safeParse(payload);
      if (!claims.success) throw unauthorized('the token lacks a valid sub, role or tenants claim');
      const c = claims.data;
      return principal(`jwt:${c.jti ?? c.sub}`, 'jwt', c.sub, c.role, c.tenants);
    }
    const k = keys.get(sha256(presented));
    if (!k) throw unauthorized('unknown API key');
    return principal(k.id, 'api_key', k.staffId, k.role, k.tenants);
  };
}
