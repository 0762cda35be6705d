import { randomFillSync } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { accessEventAvro, parseAccessEvent, toAvro } from '@custos/schemas';
import avro from 'avsc';
import { v7 } from 'uuid';

const ev = {
  tenantId: 'spera',
  actor: { id: 's-asha', type: 'staff' },
  subject: { id: 'cust-1001', type: 'customer' },
  categories: ['personal.contact'],
  action: 'read',
  purpose: 'service.support',
  source: { service: 'crm', requestId: 'req-123' },
  fields: ['email', 'phone'],
};
function bench(name: string, n: number, f: (i: number) => unknown) {
  for (let i = 0; i < n / 10; i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  const dt = Number(process.hrtime.bigint() - t) / n;
  console.log(name, dt.toFixed(0), 'ns');
}
const full = { ...ev, eventId: v7(), occurredAt: new Date().toISOString() };
bench('zod parse', 200000, () => parseAccessEvent(full));
bench('uuid v7', 1000000, () => v7());
const t = avro.Type.forSchema(accessEventAvro as any);
const av = toAvro(accessEventAvro, parseAccessEvent(full).ok && (parseAccessEvent(full) as any).value);
bench('toAvro generic', 200000, () => toAvro(accessEventAvro, full));
bench('avsc toBuffer', 1000000, () => t.toBuffer(av));
const buf = Buffer.allocUnsafe(1 << 20);
let pos = 0;
bench('avsc encode arena', 1000000, () => {
  const p = t.encode(av, buf, pos);
  pos = p > 0 && p < (1 << 20) - 1000 ? p : 0;
});
const b = t.toBuffer(av);
console.log('body bytes', b.length);
bench('crc32 300B', 1000000, () => crc32(b));
bench('Date.now iso', 1000000, () => new Date().toISOString());
bench('Date.parse', 1000000, () => Date.parse('2026-03-02T10:00:00.123Z'));
const rnd = Buffer.allocUnsafe(16 * 1024);
let rp = rnd.length;
bench('randomFill pooled', 1000000, () => {
  if (rp + 10 > rnd.length) {
    randomFillSync(rnd);
    rp = 0;
  }
  rp += 10;
});
bench('buf.write utf8 key', 1000000, () => buf.write('s-asha', 100, 'utf8'));
bench('buf.utf8Write key', 1000000, () => (buf as any).utf8Write('s-asha', 100));
