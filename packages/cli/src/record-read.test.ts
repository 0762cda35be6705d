import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCliEnv } from './env.js';
import { type ReadRecordOptions, readerOf, readRecordOptions } from './record-read.js';

const saved = process.env.API_REPORT_ACTOR;
afterEach(() => {
  if (saved === undefined) delete process.env.API_REPORT_ACTOR;
  else process.env.API_REPORT_ACTOR = saved;
});

const parse = (args: string[]): ReadRecordOptions => {
  let got: ReadRecordOptions | undefined;
  const cmd = readRecordOptions(new Command('x').exitOverride()).action((o: ReadRecordOptions) => {
    got = o;
  });
  cmd.parse(args, { from: 'user' });
  return got as ReadRecordOptions;
};

describe('who a CLI read is recorded as', () => {
  it('the options, else the environment the command parsed once, else s-ira for legal.compliance', () => {
    process.env.API_REPORT_ACTOR = 's-from-process-env';
    // registering the options reads no environment: an unset option stays unset
    expect(parse([]).actor).toBeUndefined();
    expect(readerOf(parse([]), loadCliEnv({}))).toEqual({ actor: 's-ira', purpose: 'legal.compliance' });
    expect(readerOf(parse([]), loadCliEnv({ API_REPORT_ACTOR: 's-asha', API_REPORT_PURPOSE: 'security' }))).toEqual({
      actor: 's-asha',
      purpose: 'security',
    });
    expect(readerOf(parse(['--actor', 's-dev']), loadCliEnv({ API_REPORT_ACTOR: 's-asha' })).actor).toBe('s-dev');
  });
});
