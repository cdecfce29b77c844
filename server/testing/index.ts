/** Shared test helpers for suites that talk to a real Gatehouse server process. */
export * from './serverProcess.ts';
export * from './wsClient.ts';
