/**
 * Rendering reports: the SHA-256 of a report's content, sectioned CSV, and a plain PDF (pdfkit's
 * built-in Helvetica, no font files) with tables that break across pages.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '@custos/schemas';
import { stringify } from 'csv-stringify/sync';
import PDFDocument from 'pdfkit';

export const sha256Hex = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** SHA-256 of the canonical JSON (sorted keys, no whitespace) of `report` without `contentSha256`. */
export function contentHash(report: Record<string, unknown>): string {
  const { contentSha256: _omit, ...rest } = report;
  return sha256Hex(reportMemberJson(rest));
}

/**
 * Whether JSON.stringify writes `v` exactly as canonicalJson does: strings, booleans, null, finite
 * numbers, arrays, and plain objects whose own keys are already in sorted order, at every level.
 */
function stringifiesCanonically(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    // (an undefined property is left out, an undefined array element written as null, by both)
    case 'undefined':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object':
      break;
    default:
      return false;
  }
  if (v === null) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!stringifiesCanonically(v[i])) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (i > 0 && (keys[i - 1] as string) >= k) return false;
    if (!stringifiesCanonically(o[k])) return false;
  }
  return true;
}

/**
 * canonicalJson(v), by the engine's own JSON.stringify when that writes the same text (the reports
 * are built with their keys in sorted order, so it does; ~3× faster than canonicalJson on them).
 */
function reportMemberJson(v: unknown): string {
  return stringifiesCanonically(v) ? JSON.stringify(v) : canonicalJson(v);
}

/**
 * The canonical JSON of reports made by withContentHash, kept so the report is serialized once, and
 * the SHA-256 of its file (reportJson).
 */
const canonicalForms = new WeakMap<object, { text: string; fileSha256: string }>();

/**
 * The report with its content hash. One walk serializes it: each top-level member is written once,
 * and the same member texts give both the hashed text (without `contentSha256`) and the report's own
 * canonical JSON (with it), which reportJson serves. The members before `contentSha256`'s place
 * (most of the text: the access lists sort first) are hashed once for both hashes.
 */
export function withContentHash<R extends Record<string, unknown>>(report: Omit<R, 'contentSha256'>): R {
  const o = report as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => k !== 'contentSha256' && o[k] !== undefined)
    .sort();
  const members = keys.map((k) => `${canonicalJson(k)}:${reportMemberJson(o[k])}`);
  const found = keys.findIndex((k) => k > 'contentSha256');
  const at = found < 0 ? members.length : found;
  const head = members.slice(0, at).join(',');
  const tail = members.slice(at).join(',');
  const headHash = createHash('sha256').update(`{${head}`);
  const fileHash = headHash.copy();
  // the hashed text: `{` head `,` tail `}`
  const contentSha256 = headHash.update(`${head && tail ? ',' : ''}${tail}}`).digest('hex');
  const own = `"contentSha256":"${contentSha256}"`;
  const rest = `${head ? ',' : ''}${own}${tail ? `,${tail}` : ''}}`;
  const fileSha256 = fileHash.update(`${rest}\n`).digest('hex');
  const full = { ...report, contentSha256 } as unknown as R;
  canonicalForms.set(full, { text: `{${head}${rest}`, fileSha256 });
  return full;
}

/**
 * A report as a JSON file: its canonical JSON and a newline. The bytes served, signed and written by
 * `custos report` are these, so the file is in the form its `contentSha256` is computed over (drop that
 * member and hash the rest).
 */
export function reportJson(report: unknown): Buffer {
  const known = typeof report === 'object' && report !== null ? canonicalForms.get(report) : undefined;
  return Buffer.from(`${known?.text ?? canonicalJson(report)}\n`);
}

/** SHA-256 (hex) of `body`, the bytes reportJson(report) gave: kept from withContentHash when it made the report. */
export function reportFileSha256(report: unknown, body: Uint8Array): string {
  const known = typeof report === 'object' && report !== null ? canonicalForms.get(report) : undefined;
  return known?.fileSha256 ?? sha256Hex(body);
}

// ---------- CSV ----------

export type Cell = string | number | boolean | null | undefined;

export interface Section {
  title: string;
  columns: string[];
  rows: Cell[][];
}

/**
 * One CSV file of several tables: `# title` lines introduce each table (header row, then rows),
 * tables are separated by a blank line. Metadata comes first as `# key,value` lines.
 */
export function sectionedCsv(meta: [string, Cell][], sections: Section[]): string {
  const out: string[] = [];
  out.push(stringify(meta.map(([k, v]) => [`# ${k}`, csvCell(v)])));
  for (const s of sections) {
    out.push(stringify([[`# ${s.title}`], s.columns.map(csvCell), ...s.rows.map((r) => r.map(csvCell))]));
  }
  return out.join('\n');
}

/**
 * A cell as a spreadsheet will not run it: text that starts like a formula (`=`, `+`, `-`, `@`, a tab
 * or a carriage return; OWASP's CSV injection list) gets a leading `'`. Audit data holds
 * event-supplied text (legal bases, ids, reason messages), so no cell is trusted. Numbers stay numbers.
 */
export function csvCell(c: Cell): string | number | boolean {
  if (c === null || c === undefined) return '';
  if (typeof c !== 'string') return c;
  return /^[=+\-@\t\r]/.test(c) ? `'${c}` : c;
}

// ---------- PDF ----------

/** pdfkit's standard fonts encode WinAnsi; anything else would print as garbage. */
export function pdfText(s: unknown): string {
  return String(s ?? '')
    .replace(/[≤]/g, '<=')
    .replace(/[≥]/g, '>=')
    .replace(/[→]/g, '->')
    .replace(/[^\x20-\x7e\xa0-\xff€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]/g, '?');
}

export interface PdfColumn {
  header: string;
  width: number;
  align?: 'left' | 'right';
}

export class PdfWriter {
  readonly doc: PDFKit.PDFDocument;
  private readonly chunks: Buffer[] = [];
  private readonly done: Promise<Buffer>;
  private readonly left = 48;
  private readonly right: number;
  private readonly bottom: number;

  constructor(title: string, createdAt: Date, footer: string) {
    this.doc = new PDFDocument({
      size: 'A4',
      margins: { top: 48, bottom: 56, left: 48, right: 48 },
      info: { Title: pdfText(title), Creator: 'Custos', Producer: 'Custos', CreationDate: createdAt, ModDate: createdAt },
      bufferPages: true,
      compress: true,
    });
    this.right = this.doc.page.width - 48;
    this.bottom = this.doc.page.height - 64;
    this.doc.on('data', (c: Buffer) => this.chunks.push(c));
    this.done = new Promise((resolve, reject) => {
      this.doc.on('end', () => resolve(Buffer.concat(this.chunks)));
      this.doc.on('error', reject);
    });
    this.footerText = pdfText(footer);
  }

  private readonly footerText: string;

  get width(): number {
    return this.right - this.left;
  }

  title(text: string): this {
    this.doc
      .font('Helvetica-Bold')
      .fontSize(18)
      .fillColor('#111')
      .text(pdfText(text), this.left, this.doc.y, { width: this.width });
    this.doc.moveDown(0.3);
    return this;
  }

  heading(text: string): this {
    this.ensure(60);
    this.doc.moveDown(0.6);
    this.doc
      .font('Helvetica-Bold')
      .fontSize(12)
      .fillColor('#1a3d6d')
      .text(pdfText(text), this.left, this.doc.y, { width: this.width });
    this.doc.moveDown(0.25);
    return this;
  }

  para(text: string, opts: { size?: number; color?: string } = {}): this {
    this.ensure(20);
    this.doc
      .font('Helvetica')
      .fontSize(opts.size ?? 9)
      .fillColor(opts.color ?? '#222')
      .text(pdfText(text), this.left, this.doc.y, { width: this.width });
    return this;
  }

  keyValues(pairs: [string, unknown][]): this {
    for (const [k, v] of pairs) {
      this.ensure(14);
      const y = this.doc.y;
      this.doc.font('Helvetica-Bold').fontSize(9).fillColor('#444').text(pdfText(k), this.left, y, { width: 150 });
      const yAfterKey = this.doc.y;
      this.doc
        .font('Helvetica')
        .fillColor('#111')
        .text(pdfText(v), this.left + 155, y, { width: this.width - 155 });
      this.doc.y = Math.max(this.doc.y, yAfterKey);
    }
    return this;
  }

  /** A table; cells are cut to one line. `empty` is printed when there are no rows. */
  table(columns: PdfColumn[], rows: unknown[][], empty = 'None.'): this {
    const total = columns.reduce((s, c) => s + c.width, 0);
    const scale = this.width / total;
    const cols = columns.map((c) => ({ ...c, width: c.width * scale }));
    const rowH = 13;
    const header = () => {
      this.ensure(rowH * 2);
      const y = this.doc.y;
      this.doc.rect(this.left, y - 2, this.width, rowH).fill('#e8edf4');
      let x = this.left;
      this.doc.font('Helvetica-Bold').fontSize(8).fillColor('#1a3d6d');
      for (const c of cols) {
        this.doc.text(pdfText(c.header), x + 2, y, {
          width: c.width - 4,
          height: rowH,
          lineBreak: false,
          ellipsis: true,
          align: c.align ?? 'left',
        });
        x += c.width;
      }
      this.doc.y = y + rowH;
    };
    if (rows.length === 0) {
      return this.para(empty, { color: '#666' });
    }
    header();
    rows.forEach((r, i) => {
      if (this.doc.y + rowH > this.bottom) {
        this.doc.addPage();
        header();
      }
      const y = this.doc.y;
      if (i % 2 === 1) this.doc.rect(this.left, y - 2, this.width, rowH).fill('#f6f8fb');
      let x = this.left;
      this.doc.font('Helvetica').fontSize(8).fillColor('#111');
      cols.forEach((c, j) => {
        this.doc.text(pdfText(r[j]), x + 2, y, {
          width: c.width - 4,
          height: rowH,
          lineBreak: false,
          ellipsis: true,
          align: c.align ?? 'left',
        });
        x += c.width;
      });
      this.doc.y = y + rowH;
    });
    this.doc.x = this.left;
    return this;
  }

  private ensure(h: number): void {
    if (this.doc.y + h > this.bottom) this.doc.addPage();
    this.doc.x = this.left;
  }

  async end(): Promise<Buffer> {
    const range = this.doc.bufferedPageRange();
    for (let i = range.start; i < range.start + range.count; i++) {
      this.doc.switchToPage(i);
      const y = this.doc.page.height - 40;
      // writing inside the bottom margin would otherwise start a new page
      this.doc.page.margins.bottom = 0;
      this.doc.font('Helvetica').fontSize(7).fillColor('#777');
      this.doc.text(`${this.footerText} - page ${i + 1} of ${range.count}`, this.left, y, {
        width: this.width,
        lineBreak: false,
        height: 10,
      });
    }
    this.doc.end();
    return this.done;
  }
}
