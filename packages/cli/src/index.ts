import type { Command } from 'commander';
import { registerEvaluate } from './commands/evaluate.js';
import { registerPolicy } from './commands/policy.js';
import { registerStart } from './commands/start.js';

/** Adds every subcommand to `program`. */
export function registerCommands(program: Command): void {
  registerEvaluate(program);
  registerPolicy(program);
  registerStart(program);
}
