import type { Command } from 'commander';
import { registerCheckpoint } from './commands/checkpoint.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPolicy } from './commands/policy.js';
import { registerReplay } from './commands/replay.js';
import { registerReport } from './commands/report.js';
import { registerStart } from './commands/start.js';
import { registerSubject } from './commands/subject.js';
import { registerVerify } from './commands/verify.js';

/** Adds every subcommand to `program`. */
export function registerCommands(program: Command): void {
  registerEvaluate(program);
  registerPolicy(program);
  registerReport(program);
  registerStart(program);
  registerReplay(program);
  registerMigrate(program);
  registerVerify(program);
  registerCheckpoint(program);
  registerSubject(program);
}
