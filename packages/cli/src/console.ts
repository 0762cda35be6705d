/**
 * What `custos start` shows a person at a terminal: a banner saying what runs where and how to use
 * it, and a status line kept at the bottom (the pretty log lines scroll above it).
 */
import { setStatusLine } from '@custos/config';

export interface BannerInfo {
  services: string[];
  brokers: string[];
  registry: string;
  store?: { mode: string; where: string } | undefined;
  api?: { url: string } | undefined;
  policyVersion?: string | undefined;
  demo?: { rate: number; key?: string | undefined } | undefined;
}

export function banner(i: BannerInfo): string {
  const rows: [string, string][] = [
    ['runs', `${i.services.join(', ')} (one process)`],
    ['kafka', `${i.brokers.join(',')}  registry ${i.registry}`],
  ];
  if (i.store) rows.push(['store', `${i.store.mode} ${i.store.where}`]);
  if (i.policyVersion) rows.push(['policy', i.policyVersion]);
  if (i.api) rows.push(['api', i.api.url], ['console', `${i.api.url}/console`]);
  if (i.demo) rows.push(['demo', `${i.demo.rate} simulated access events/s`]);
  const lines = ['', 'Custos is running', ...rows.map(([k, v]) => `  ${k.padEnd(8)} ${v}`)];
  if (i.demo?.key && i.api) {
    lines.push(
      '',
      `  demo key ${i.demo.key}`,
      '           admin for all tenants, valid for this run only; paste it into the console, or:',
      `  curl -H 'Authorization: Bearer ${i.demo.key}' -H 'X-Purpose: security' '${i.api.url}/v1/accesses?limit=20'`,
    );
  }
  lines.push('', '  Ctrl-C stops it (gracefully; a second Ctrl-C at once).', '');
  return `${lines.join('\n')}\n`;
}

export interface StatusFigures {
  eventsPerS?: number | undefined;
  decisions?: number | undefined;
  stored?: number | undefined;
  lag?: number | undefined;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

export function statusText(f: StatusFigures): string {
  const parts: string[] = [];
  if (f.eventsPerS !== undefined) parts.push(`in ${n(f.eventsPerS)} events/s`);
  if (f.decisions !== undefined) parts.push(`decisions ${n(f.decisions)}`);
  if (f.stored !== undefined) parts.push(`stored ${n(f.stored)}`);
  if (f.lag !== undefined) parts.push(`lag ${n(f.lag)}`);
  return parts.join(' · ');
}

/** Redraws the status line every `everyMs` from `read`; returns a function that stops and clears it. */
export function startStatusLine(
  read: () => Promise<Omit<StatusFigures, 'eventsPerS'> & { events?: number }>,
  everyMs = 1000,
): () => void {
  let last: { at: number; events: number } | undefined;
  const timer = setInterval(() => {
    void read().then((r) => {
      const at = Date.now();
      const eventsPerS =
        r.events !== undefined && last ? ((r.events - last.events) * 1000) / Math.max(1, at - last.at) : undefined;
      if (r.events !== undefined) last = { at, events: r.events };
      setStatusLine(statusText({ ...r, eventsPerS: eventsPerS ?? (r.events !== undefined ? 0 : undefined) }));
    });
  }, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    setStatusLine(undefined);
  };
}
