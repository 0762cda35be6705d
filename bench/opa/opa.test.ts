/**
 * The Rego translation (custos.rego) decides the reference cases (test/fixtures/spec) exactly as
 * expected.ndjson says, through the `opa` command itself. Runs when OPA is built (scripts/opa.sh,
 * `pnpm bench policy` builds it); without it the test is skipped and says why.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBundleText } from '../../packages/policy/src/index.js';
import { type AccessEvent, parseAccessEvent, parseSubjectStateChange, type SubjectStateChange } from '../../schemas/src/index.js';
import { specFixtures } from '../../test/support/fixtures.js';
import { OPA_VERSION, opaPaths } from './binary.js';
import { bulkCounts, opaBundleData, opaSubjectData } from './data.js';

const ndjson = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);

const built = existsSync(opaPaths.opa);
const dir = mkdtempSync(join(tmpdir(), 'custos-opa-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!built)(`the Rego translation under OPA ${OPA_VERSION}`, () => {
  it('decides every reference case as expected.ndjson says (outcome and codes)', () => {
    const loaded = parseBundleText(readFileSync(specFixtures.bundle, 'utf8'));
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const bundle = loaded.value.bundle;
    const changes = ndjson(specFixtures.state).map((raw) => {
      const r = parseSubjectStateChange(raw);
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.value as SubjectStateChange;
    });
    const expected = ndjson(specFixtures.expected) as Array<{ eventId: string; outcome: string; codes: string[] }>;
    // Invalid events are refused before judging, by the contract (not by the policy).
    const valid: AccessEvent[] = [];
    for (const raw of ndjson(specFixtures.events)) {
      const r = parseAccessEvent(raw);
      if (r.ok) valid.push(r.value);
    }
    const counts = bulkCounts(bundle, valid);
    writeFileSync(
      join(dir, 'data.json'),
      JSON.stringify({ policy_bundle: opaBundleData(bundle), subjects: opaSubjectData(changes) }),
    );
    writeFileSync(
      join(dir, 'input.json'),
      JSON.stringify({ items: valid.map((event, i) => ({ event, bulk_distinct: counts[i] })) }),
    );
    const out = execFileSync(
      opaPaths.opa,
      [
        'eval',
        '--format',
        'json',
        '--data',
        opaPaths.rego,
        '--data',
        join(dir, 'data.json'),
        '--input',
        join(dir, 'input.json'),
        'data.custos.decisions',
      ],
      { encoding: 'utf8' },
    );
    const decisions = (
      JSON.parse(out) as { result: Array<{ expressions: Array<{ value: Array<{ outcome: string; codes: string[] }> }> }> }
    ).result[0]!.expressions[0]!.value;
    const got = valid.map((e, i) => ({ eventId: e.eventId, outcome: decisions[i]!.outcome, codes: decisions[i]!.codes }));
    const want = expected.filter((x) => x.outcome !== 'invalid').map((x) => ({ ...x, codes: [...x.codes].sort() }));
    expect(got).toEqual(want);
  });
});

it.runIf(!built)('is skipped: OPA is not built (bash scripts/opa.sh)', () => {});
