/** The policy bundle format (the reference: policies/example-org.json), structurally. Cross-references are checked in bundle.ts. */
import type { AccessEvent } from '@custos/schemas';
import { z } from 'zod';
import { isDay } from './dates.js';

export const ACTIONS = [
  'read',
  'create',
  'update',
  'delete',
  'export',
  'share',
  'disclose',
] as const satisfies readonly AccessEvent['action'][];
export type Action = (typeof ACTIONS)[number];

export const PARTY_TYPES = ['processor', 'third_party', 'authority'] as const;

const id = z.string().trim().min(1, 'must not be empty');
const day = z.string().refine(isDay, 'must be a calendar date YYYY-MM-DD (whole UTC day)');
const positiveInt = z.number().int('must be an integer').min(1, 'must be ≥ 1');

const grant = z.strictObject({
  id,
  actions: z.array(z.enum(ACTIONS)).min(1, 'at least one action'),
  categories: z.array(id).min(1, 'at least one category (or "*")'),
  purposes: z.array(id).min(1, 'at least one purpose'),
});

const roleAssignment = z.strictObject({ role: id, from: day, to: day.optional() });

const staff = z.strictObject({
  id,
  name: z.string(),
  department: z.string().optional(),
  tenants: z.array(id),
  roles: z.array(roleAssignment),
});

const party = z.strictObject({ id, name: z.string(), type: z.enum(PARTY_TYPES) });

const agreement = z.strictObject({
  id,
  party: id,
  categories: z.array(id).min(1, 'at least one category (or "*")'),
  purposes: z.array(id).min(1, 'at least one purpose'),
  from: day,
  to: day.optional(),
  confidentiality: z.boolean().optional(),
});

// Strict objects: a misspelt key in a policy is a mistake to report, not something to ignore.
export const bundleSchema = z.strictObject({
  version: id,
  organisation: z.string().optional(),
  jurisdiction: z.string().optional(),
  categories: z.record(id, z.strictObject({ description: z.string().optional(), fields: z.array(z.string()).optional() })),
  purposes: z.record(id, z.string()),
  prohibitedPurposes: z.array(id),
  roles: z.record(id, z.array(grant)),
  staff: z.array(staff),
  parties: z.array(party),
  agreements: z.array(agreement),
  retentionDays: z.record(id, positiveInt),
  bulkAccess: z.strictObject({ recordsPerEvent: positiveInt, distinctSubjects: positiveInt, windowSeconds: positiveInt }),
  tenants: z.array(id),
});

export type PolicyBundle = z.infer<typeof bundleSchema>;
export type Grant = z.infer<typeof grant>;
export type StaffMember = z.infer<typeof staff>;
export type RoleAssignment = z.infer<typeof roleAssignment>;
export type Party = z.infer<typeof party>;
export type Agreement = z.infer<typeof agreement>;

/** `"*"` in a category list means every category. */
export const ALL = '*';
