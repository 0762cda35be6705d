import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type ArgsIo, type BenchOption, benchArgs } from './cli-args.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const usage = { command: 'pnpm bench:x', summary: 'Measures x.', prints: 'a table; writes bench/results/x.json.' };
const options = {
  events: { type: 'string', default: '1000', arg: 'N', help: 'events per run' },
  peer: { type: 'boolean', default: true, help: 'also the peer' },
  'no-kafka': { type: 'boolean', default: false, help: 'skip Kafka' },
  child: { type: 'string', internal: true, help: 'for the child process' },
} satisfies Record<string, BenchOption>;

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function run(argv: string[]) {
  const seen = { out: '', err: '', code: undefined as number | undefined };
  const io: ArgsIo = {
    out: (t) => {
      seen.out += t;
    },
    err: (t) => {
      seen.err += t;
    },
    exit: (code) => {
      throw new Exit(code);
    },
  };
  try {
    return { ...seen, values: benchArgs(usage, options, argv, io).values };
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    return { ...seen, code: e.code, values: undefined };
  }
}

describe('benchmark command lines', () => {
  it('parses options with their defaults, drops the `--` pnpm passes through, and negates on-by-default booleans', () => {
    expect(run([]).values).toMatchObject({ events: '1000', peer: true, 'no-kafka': false });
    expect(run(['--', '--events', '5', '--no-peer']).values).toMatchObject({ events: '5', peer: false });
    // an option named no-… is itself, not the negation of another
    expect(run(['--no-kafka']).values).toMatchObject({ 'no-kafka': true });
  });

  it('answers --help with the usage: options, defaults, what it prints; exit 0', () => {
    const r = run(['--events', '5', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: pnpm bench:x \[options\]/);
    expect(r.out).toMatch(/--events N\s+events per run \(default: 1000\)/);
    expect(r.out).toMatch(/--peer\s+also the peer \(on by default; --no-peer turns it off\)/);
    expect(r.out).toContain('Prints: a table; writes bench/results/x.json.');
    expect(r.out).not.toContain('--child');
    expect(run(['-h']).code).toBe(0);
  });

  it('refuses an unknown option, a missing value or a stray argument with one line; exit 2', () => {
    for (const argv of [['--bogus'], ['--events'], ['extra']]) {
      const r = run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/^pnpm bench:x: .+ \(--help lists the options\)\n$/);
    }
    expect(run(['--bogus']).err).toContain("'--bogus'");
  });

  it('pnpm load --help prints its usage and exits 0; an unknown option exits 2 with one line', async () => {
    const load = (arg: string) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'bench/load.ts'), arg], { cwd: root }).then(
        (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
      );
    const help = await load('--help');
    expect(help.code, help.err).toBe(0);
    expect(help.out).toMatch(/^Usage: pnpm load \[options\]/);
    expect(help.out).toMatch(/--rate R\s+.*\(default: 5000\)/);
    const bad = await load('--no-such-option');
    expect(bad.code).toBe(2);
    expect(bad.err).toBe("pnpm load: Unknown option '--no-such-option' (--help lists the options)\n");
  });
});
