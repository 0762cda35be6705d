import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { specFixtures } from '@custos/test/fixtures';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { CliError, registerEvaluate, runEvaluate } from './evaluate.js';

const { bundle: policy, state, events } = specFixtures;

function sink(): { stream: PassThrough; lines: () => Array<Record<string, unknown>> } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return {
    stream,
    lines: () =>
      Buffer.concat(chunks)
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l)),
  };
}

const expected = () =>
  readFileSync(specFixtures.expected, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));

describe('custos evaluate', () => {
  it('reproduces expected.ndjson (outcome and codes) on the reference cases', async () => {
    const out = sink();
    const stats = await runEvaluate({ policy, state, events, stdout: out.stream });
    const got = out.lines().map((l) => ({ eventId: l.eventId, outcome: l.outcome, codes: l.codes }));
    expect(got).toEqual(expected());
    expect(stats).toEqual({ allow: 8, flag: 2, deny: 13, invalid: 1, truncated: false });
    const first = out.lines()[0];
    expect(first).toMatchObject({
      basis: ['G-SUP-1'],
      reasons: [],
      policyVersion: expect.stringMatching(/^spera-2026\.11\.1\+sha256:/),
    });
  });

  it('runs through commander, reading stdin for "-"', async () => {
    const out = sink();
    const program = new Command().exitOverride();
    registerEvaluate(program, { stdin: Readable.from([readFileSync(events)]), stdout: out.stream, stderr: out.stream });
    await program.parseAsync(['evaluate', '--policy', policy, '--state', state, '-'], { from: 'user' });
    expect(out.lines().map((l) => ({ eventId: l.eventId, outcome: l.outcome, codes: l.codes }))).toEqual(expected());
  });

  it('answers every non-blank line in order: invalid lines name the fields, blank lines are skipped', async () => {
    const good = readFileSync(events, 'utf8').split('\n')[0];
    const input = [
      good,
      '',
      '   ',
      '{"eventId": "00000000-0000-7000-8000-00000000abcd", "bad json',
      '[1, 2]',
      JSON.stringify({
        ...JSON.parse(good ?? ''),
        eventId: '00000000-0000-7000-8000-0000000000aa',
        recordCount: 0,
        actor: { id: 's-asha' },
      }),
      `${good}\r`,
    ].join('\n');
    const out = sink();
    const stats = await runEvaluate({ policy, events: '-', stdin: Readable.from([`\ufeff${input}\n`]), stdout: out.stream });
    const lines = out.lines();
    expect(lines.map((l) => l.outcome)).toEqual(['allow', 'invalid', 'invalid', 'invalid', 'allow']);
    expect(lines[1]).toMatchObject({
      eventId: null,
      line: 4,
      codes: [],
      errors: [{ path: '', message: expect.stringMatching(/^not JSON/) }],
    });
    expect(lines[2]).toMatchObject({ eventId: null, line: 5 });
    expect(lines[3]).toMatchObject({ eventId: '00000000-0000-7000-8000-0000000000aa', line: 6 });
    const errors = (lines[3]?.errors ?? []) as Array<{ path: string }>;
    expect(errors.map((e) => e.path).sort()).toEqual(['actor.type', 'recordCount']);
    expect(stats.invalid).toBe(3);
  });

  it('honours back-pressure on large inputs and keeps the order', async () => {
    const line = readFileSync(events, 'utf8').split('\n')[0] ?? '';
    const n = 20_000;
    const input = Readable.from(
      (function* () {
        for (let i = 0; i < n; i++) yield `${line.replace('000000000001', String(i).padStart(12, '0'))}\n`;
      })(),
    );
    let count = 0;
    let last = -1;
    let ordered = true;
    let pending = '';
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        pending += chunk.toString('utf8');
        const parts = pending.split('\n');
        pending = parts.pop() ?? '';
        for (const p of parts) {
          const id = Number.parseInt(String(JSON.parse(p).eventId).slice(-12), 10);
          if (id !== last + 1) ordered = false;
          last = id;
          count++;
        }
        setImmediate(cb);
      },
    });
    const stats = await runEvaluate({ policy, events: '-', stdin: input, stdout: slow });
    await new Promise((r) => slow.end(r));
    expect(count).toBe(n);
    expect(ordered).toBe(true);
    expect(stats.allow + stats.flag).toBe(n);
  });

  it('fails clearly for a missing or invalid policy and an unreadable events or state file', async () => {
    const out = sink();
    await expect(runEvaluate({ policy: '/nonexistent.json', events, stdout: out.stream })).rejects.toThrow(
      'cannot read policy bundle /nonexistent.json: file not found',
    );
    const dir = await mkdtemp(join(tmpdir(), 'custos-eval-'));
    const bad = join(dir, 'bad.json');
    await writeFile(
      bad,
      readFileSync(policy, 'utf8').replace(
        '"role": "billing_specialist", "from": "2023-01-01"',
        '"role": "biller", "from": "2023-01-01"',
      ),
    );
    await expect(runEvaluate({ policy: bad, events, stdout: out.stream })).rejects.toThrow(
      /staff\[3\]\.roles\[0\]\.role: unknown role "biller"/,
    );
    await expect(runEvaluate({ policy, events: join(dir, 'none.ndjson'), stdout: out.stream })).rejects.toThrow(CliError);
    const badState = join(dir, 'state.ndjson');
    await writeFile(badState, `\n${readFileSync(state, 'utf8').split('\n')[0]}\n{"change":"forgotten"}\n`);
    await expect(runEvaluate({ policy, state: badState, events, stdout: out.stream })).rejects.toThrow(
      /state\.ndjson:3: invalid subject-state change/,
    );
    expect(out.lines()).toEqual([]);
  });
});
