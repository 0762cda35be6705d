import type { Command } from 'commander';

/** Adds every subcommand to `program`. */
export function registerCommands(program: Command): void {
  void program;
}
