import { describe, expect, it } from 'vitest';
import { resolveLogFormat } from './logger.js';
import { prettyLine } from './pretty.js';

describe('prettyLine', () => {
  const rec = {
    level: 30,
    time: Date.parse('2026-10-01T12:04:05.123Z'),
    pid: 1,
    hostname: 'h',
    service: 'enforcer',
    msg: 'partitions assigned',
    partitions: [0, 1],
    memberId: 'custos-1',
  };

  it('writes level, time, service, message and the other fields on one line', () => {
    expect(prettyLine(JSON.stringify(rec))).toBe(
      '12:04:05.123 INFO  enforcer partitions assigned  partitions=[0,1] memberId=custos-1\n',
    );
  });

  it('quotes values with spaces, shows an error stack below the line, colours only when asked', () => {
    const line = JSON.stringify({
      ...rec,
      level: 50,
      msg: 'boom',
      reason: 'two words',
      err: { type: 'Error', message: 'x', stack: 'Error: x\n    at f' },
    });
    const out = prettyLine(line);
    expect(out).toContain('ERROR enforcer boom  partitions=[0,1]');
    expect(out).toContain('reason="two words"\n    Error: x\n        at f\n');
    expect(out).not.toContain('\x1b[');
    expect(prettyLine(line, { colors: true })).toContain('\x1b[31mERROR\x1b[0m');
  });

  it('passes a line that is not JSON through', () => {
    expect(prettyLine('plain text')).toBe('plain text\n');
  });
});

describe('resolveLogFormat', () => {
  it('is JSON when output is not a terminal, readable on one, and as set otherwise', () => {
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });
});
