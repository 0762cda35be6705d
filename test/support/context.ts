/** Values the global setup provides to every test file. */
declare module 'vitest' {
  export interface ProvidedContext {
    KAFKA_BROKERS: string;
    SCHEMA_REGISTRY_URL: string;
    CLICKHOUSE_URL: string;
  }
}

export {};
