#!/usr/bin/env node
/** The `custos` command. Each subcommand lives in commands/<name>.ts and registers itself here. */
import { Command, CommanderError } from 'commander';
import { registerCommands } from './index.js';

const program = new Command('custos').description('Custos: an audit pipeline for access to personal data').exitOverride();
registerCommands(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`custos: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
