/**
 * Every Kafka topic Custos uses, defined once. Tests give each file its own topics through `prefix`.
 */
export interface TopicSpec {
  name: string;
  partitions: number;
  /** Kafka topic configs applied at creation */
  config: Record<string, string>;
  /** registry subject of the value schema (TopicNameStrategy) */
  subject: string;
}

export interface Topics {
  accessEvents: TopicSpec;
  subjectState: TopicSpec;
  decisions: TopicSpec;
  policyBundles: TopicSpec;
  accessEventsDlq: TopicSpec;
  subjectStateDlq: TopicSpec;
  decisionsDlq: TopicSpec;
}

export const TOPIC_BASE_NAMES = {
  accessEvents: 'access-events',
  subjectState: 'subject-state',
  decisions: 'decisions',
  policyBundles: 'policy-bundles',
  accessEventsDlq: 'access-events.dlq',
  subjectStateDlq: 'subject-state.dlq',
  decisionsDlq: 'decisions.dlq',
} as const satisfies Record<keyof Topics, string>;

const compacted = { 'cleanup.policy': 'compact' };

export function topics(opts: { prefix?: string; partitions?: number } = {}): Topics {
  const prefix = opts.prefix ?? '';
  const p = opts.partitions ?? 6;
  const t = (key: keyof Topics, partitions: number, config: Record<string, string> = {}): TopicSpec => {
    const name = `${prefix}${TOPIC_BASE_NAMES[key]}`;
    return { name, partitions, config, subject: `${name}-value` };
  };
  return {
    accessEvents: t('accessEvents', p),
    // Compacted: every enforcer reads it whole as a global table of subject state.
    subjectState: t('subjectState', 1, compacted),
    decisions: t('decisions', p),
    policyBundles: t('policyBundles', 1, compacted),
    accessEventsDlq: t('accessEventsDlq', 1),
    subjectStateDlq: t('subjectStateDlq', 1),
    decisionsDlq: t('decisionsDlq', 1),
  };
}
