/** Errors of the policy package. Every error says whether retrying the same call could succeed. */

/** One problem in a policy bundle, located by a JSON path such as `staff[3].roles[0].role`. */
export interface BundleIssue {
  path: string;
  message: string;
}

export class PolicyError extends Error {
  constructor(
    message: string,
    readonly retriable = false,
  ) {
    super(message);
    this.name = 'PolicyError';
  }
}

/** A bundle that cannot be read or does not validate; `issues` lists every problem found. */
export class BundleError extends PolicyError {
  constructor(
    readonly source: string,
    readonly issues: BundleIssue[],
    retriable = false,
    headline = `invalid policy bundle ${source}`,
  ) {
    const only = issues.length === 1 && issues[0]?.path === '' ? issues[0].message : undefined;
    super(only === undefined ? `${headline}:\n${formatIssues(issues)}` : `${headline}: ${only}`, retriable);
    this.name = 'BundleError';
  }
}

export function formatIssues(issues: readonly BundleIssue[]): string {
  return issues.map((i) => `  - ${i.path || '(bundle)'}: ${i.message}`).join('\n');
}

/** Formats a path of object keys and array indices as `a.b[2]["key.with.dots"]`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else {
      const key = String(s);
      if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}
