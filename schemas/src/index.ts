export * from './canonical-json.js';
export * from './civil-date.js';
export * from './codec.js';
export * from './contract.js';
export type { DeadLetterV1 as DeadLetter, DecisionV1 as Decision } from './generated.js';
export * from './generated.js';
export {
  AccessEventV1Avro as accessEventAvro,
  DeadLetterV1Avro as deadLetterAvro,
  DecisionV1Avro as decisionAvro,
  SubjectStateChangeV1Avro as subjectStateChangeAvro,
} from './generated.js';
export * from './input-checks.js';
export * from './topics.js';
