/**
 * The reference cases, kept in the repository as data (test/fixtures/spec): the reference policy
 * bundle, a set of access events and subject-state changes, and the outcome and codes every event
 * must get (docs/rules.md). Tests read them from here, never from outside the repository.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const specFixtureDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'spec');

export const specFixtures = {
  /** the reference policy bundle; `policies/example-org.json` is byte-identical to it */
  bundle: join(specFixtureDir, 'example-org.json'),
  /** access events, one JSON object per line, one of them invalid */
  events: join(specFixtureDir, 'events.ndjson'),
  /** subject-state changes applied before the events are judged */
  state: join(specFixtureDir, 'subject-state.ndjson'),
  /** `{eventId, outcome, codes}` per event, in input order, codes sorted */
  expected: join(specFixtureDir, 'expected.ndjson'),
} as const;
