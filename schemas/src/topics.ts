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
  /** signed checkpoints and heads of the stored decision chains, kept outside ClickHouse (JSON, not Avro) */
  witness: TopicSpec;
}

export const TOPIC_BASE_NAMES = {
  accessEvents: 'access-events',
  subjectState: 'subject-state',
  decisions: 'decisions',
  policyBundles: 'policy-bundles',
  accessEventsDlq: 'access-events.dlq',
  subjectStateDlq: 'subject-state.dlq',
  decisionsDlq: 'decisions.dlq',
  witness: 'decisions.witness',
} as const satisfies Record<keyof Topics, string>;

const compacted = { 'cleanup.policy': 'compact' };
/**
 * The witness of the stored decisions: never deleted by time or size and never compacted (a
 * compacted topic would keep one record per key and lose the older checkpoints).
 */
const keptForever = { 'cleanup.policy': 'delete', 'retention.ms': '-1', 'retention.bytes': '-1' };

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
    // One partition: one order of every checkpoint and head.
    witness: t('witness', 1, keptForever),
  };
}
