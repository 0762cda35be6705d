import type { Command } from 'commander';
import { registerStart } from './commands/start.js';

/** Adds every subcommand to `program`. */
export function registerCommands(program: Command): void {
  registerStart(program);
}
