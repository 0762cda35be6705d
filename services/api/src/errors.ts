/** HTTP errors the routes throw; the app's error handler turns them into JSON answers. */
import type { z } from 'zod';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export interface FieldIssue {
  field: string;
  message: string;
}

/** Validates `input`; a failure is a 400 naming every bad field (`in` says where: query, path, header). */
export function parseInput<T extends z.ZodType>(
  schema: T,
  input: unknown,
  where: 'query' | 'path' | 'header' | 'body',
): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const details: FieldIssue[] = [];
    for (const i of r.error.issues) {
      if (i.code === 'unrecognized_keys') {
        for (const k of i.keys) details.push({ field: [...i.path.map(String), k].join('.'), message: 'unknown parameter' });
      } else {
        const field = i.path.length ? i.path.map(String).join('.') : where;
        // a failed format check and a refinement on the same value say the same thing twice
        if (!details.some((d) => d.field === field)) details.push({ field, message: i.message });
      }
    }
    throw new HttpError(400, `invalid ${where}: ${[...new Set(details.map((d) => d.field))].join(', ')}`, details);
  }
  return r.data;
}

export const unauthorized = (message: string) =>
  new HttpError(401, message, undefined, { 'WWW-Authenticate': 'Bearer realm="custos", charset="UTF-8"' });
export const forbidden = (message: string) => new HttpError(403, message);
