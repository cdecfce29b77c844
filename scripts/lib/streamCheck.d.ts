/** Types for streamCheck.js (plain JavaScript so that `node` runs the ordering script). */
export declare const OUTCOME_TYPES: Set<string>;
export declare function isSequenced(frame: unknown): boolean;
export declare class StreamChecker {
  constructor(name: string, options?: { maxViolations?: number });
  readonly name: string;
  violations: string[];
  violationCount: number;
  epoch: string | undefined;
  nextSeq: number | undefined;
  lastSeq: number;
  connections: number;
  /** An epoch and no snapshot or snapshot-part still owed. */
  readonly canResume: boolean;
  sequencedCount: number;
  requests: Map<string, { seq: number; fromSnapshot: boolean; frame: any }>;
  outcomes: Map<string, any>;
  countsByType: Map<string, number>;
  violation(text: string): void;
  connectionOpened(): void;
  frame(frame: any): void;
  checkOutcomes(finals: Map<string, { status: string; decision?: string }>): void;
}
export declare function quantile(values: number[], q: number): number;
export declare function describeLatencies(values: number[]): string;
