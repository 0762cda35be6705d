import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The example organisation's bundle in the repository: what a service judges by when POLICY_FILE is unset. */
export const DEFAULT_POLICY_FILE = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'),
  'policies',
  'example-org.json',
);
