/**
 * Authentication: API keys or JWTs. Each credential belongs to one staff member of the policy
 * bundle's directory and carries one role and a tenant scope; the scope is taken from the
 * credential (intersected with the staff member's own tenants), never from the request.
 *
 * The directory is the source of truth for who may read: at every request the staff member must be
 * in the current bundle's directory, hold a role there today, and keep a tenant in scope. A leaver
 * (every role ended) or someone with no role is refused, whatever the credential says.
 *
 * JWTs must carry `exp`, `iat` and `sub`, be no older than the maximum token age, and name the
 * configured audience and (when one is configured) issuer. An empty setting is a configuration
 * error, never a check switched off.
 *
 * 401: no credential, an unknown or malformed one, a bad signature, an expired or too old token, a
 * staff member the directory does not know, or one who holds no role today. 403: a credential with
 * no tenant left in scope; (in routes) a role that may not call the route, or a tenant outside the
 * scope.
 */
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { z } from 'zod';
import type { ApiKeyConfig } from './config.js';
import { type Directory, rolesHeld } from './directory.js';
import { forbidden, unauthorized } from './errors.js';
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
  /** default `custos-api` */
  audience?: string | undefined;
  /** the oldest `iat` accepted, in seconds; default 3600 */
  maxAgeS?: number | undefined;
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

export const DEFAULT_JWT_AUDIENCE = 'custos-api';
export const DEFAULT_JWT_MAX_AGE_S = 3600;

/**
 * `directory`: the current bundle's directory (a function when the bundle can change while running).
 * `now`: the clock deciding which roles are held today.
 */
export function createAuthenticator(
  opts: AuthOptions,
  directory: Directory | (() => Directory),
  now: () => Date = () => new Date(),
): Authenticate {
  const currentDirectory = typeof directory === 'function' ? directory : () => directory;
  const keys = new Map<string, ApiKeyConfig>();
  for (const k of opts.apiKeys) keys.set(k.sha256 ?? sha256(k.key as string), k);
  const jwt = opts.jwt;
  for (const [name, v] of [
    ['issuer', jwt?.issuer],
    ['audience', jwt?.audience],
    ['secret', jwt?.secret],
    ['jwksUrl', jwt?.jwksUrl],
  ] as const) {
    if (v !== undefined && v.trim() === '') throw new Error(`JWT ${name} is set but empty; leave it unset or give a value`);
  }
  if (jwt?.maxAgeS !== undefined && !(jwt.maxAgeS > 0)) throw new Error('JWT maxAgeS must be a positive number of seconds');
  const audience = jwt?.audience ?? DEFAULT_JWT_AUDIENCE;
  const maxAgeS = jwt?.maxAgeS ?? DEFAULT_JWT_MAX_AGE_S;
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
    const dir = currentDirectory();
    const staff = dir.staff.get(staffId);
    if (!staff) throw unauthorized('the credential belongs to no staff member in the policy directory');
    const today = now();
    if (rolesHeld(staff, today).length === 0) {
      throw unauthorized(
        `${staff.id} holds no role in the policy directory on ${today.toISOString().slice(0, 10)} (a leaver, or no role assigned)`,
      );
    }
    const scope = effectiveTenants(tenants, staff.tenants);
    if (scope !== '*' && scope.length === 0) throw forbidden('none of the credential’s tenants is one of the staff member’s');
    return {
      credentialId,
      kind,
      staffId,
      name: staff.name,
      department: staff.department,
      role,
      tenants: scope,
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
          ...(jwt?.issuer !== undefined ? { issuer: jwt.issuer } : {}),
          audience,
          maxTokenAge: maxAgeS,
          requiredClaims: ['exp', 'iat', 'sub'],
        }));
      } catch (err) {
        const code = err && typeof err === 'object' && 'code' in err ? String(err.code) : '';
        const claim = err && typeof err === 'object' && 'claim' in err ? String(err.claim) : '';
        throw unauthorized(
          code === 'ERR_JWT_EXPIRED'
            ? claim === 'iat'
              ? `the token is older than ${maxAgeS} s`
              : 'the token has expired'
            : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim
              ? `the token's ${claim} claim is missing or not accepted`
              : 'the token is not valid',
        );
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
