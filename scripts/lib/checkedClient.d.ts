/** Types for checkedClient.js. */
import type WebSocket from 'ws';
import type { StreamChecker } from './streamCheck.js';

export declare const CLIENT_FAULTS: string[];
export declare class CheckedClient {
  constructor(options: {
    label: string;
    url: (params: Record<string, string | number | undefined>) => string;
    onFrame?: (frame: any, client: CheckedClient) => void;
    fault?: string;
    faultAfter?: number;
    ackEveryMs?: number;
  });
  readonly label: string;
  index?: number;
  checker: StreamChecker;
  ws: WebSocket | undefined;
  welcome: any;
  framesIn: number;
  errors: any[];
  closedInfo: { code: number; reason: string } | undefined;
  connect(options?: { resume?: boolean }): Promise<any>;
  ackNow(): void;
  send(message: unknown): boolean;
  until(predicate: () => boolean, timeoutMs: number, what?: string): Promise<void>;
  terminate(): void;
  close(): void;
}
