/**
 * Protocol constants: the numbers and names of the wire contract (protocol-v1.md).
 * Tables are `as const` so that their values are types too.
 */

export const PROTOCOL_VERSION = 1;
/** Offered by clients in Sec-WebSocket-Protocol; the server selects it. */
export const SUBPROTOCOL = 'gatehouse.v1';

/** Codes of `error` frames and of HTTP error bodies. */
export const ERROR_CODES = {
  invalidMessage: 'invalid-message',
  unknownRequest: 'unknown-request',
  alreadyResolved: 'already-resolved',
  expired: 'expired',
  cancelled: 'cancelled',
  rateLimited: 'rate-limited',
  internal: 'internal',
  // HTTP only
  idempotencyConflict: 'idempotency-conflict',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  payloadTooLarge: 'payload-too-large',
  notFound: 'not-found',
  unavailable: 'unavailable',
  /** A chat turn is already running in that session. */
  sessionBusy: 'session-busy',
  /** A create beyond `--max-unresolved` / `--max-unresolved-bytes` (HTTP 429): nothing is stored. */
  tooManyRequests: 'too-many-requests',
  /** A request body that did not arrive within `--body-timeout-ms` (HTTP 408). */
  requestTimeout: 'request-timeout',
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** The codes a `permission-response` (or an HTTP decision) can be refused with. */
export const DECISION_REJECTION_CODES = ['unknown-request', 'already-resolved', 'expired', 'cancelled'] as const;
export type DecisionRejectionCode = (typeof DECISION_REJECTION_CODES)[number];

export const CLOSE_CODES = {
  normal: 1000,
  /** The server is stopping. */
  goingAway: 1001,
  /** The client broke the rules too often. */
  policyViolation: 1008,
  /** A frame over the size limit. */
  tooBig: 1009,
  /** Dropped on purpose (slow consumer): reconnect with `since` and resume. */
  slowConsumer: 4000,
} as const;
export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

export const LIMITS = {
  /** Client frames and HTTP bodies. */
  maxFrameBytes: 1 << 20,
  /** A request's `input` (and an edited input): small enough that it always fits a frame back. */
  maxInputBytes: 256 << 10,
  /** ...nested at most this deep: a deeper value (a few KiB of `{"a":{"a":…}}`) would
   *  overflow recursive walks (JSON.stringify, canonical JSON, a UI's tree view). */
  maxInputDepth: 100,
  minTimeoutMs: 100,
  maxTimeoutMs: 86_400_000,
  defaultTimeoutMs: 120_000,
  /** Long-poll `?wait=` cap, well below Node's 300 s header timeout. */
  maxWaitSeconds: 60,
  maxToolNameLength: 200,
  maxIdLength: 200,
  maxMessageLength: 10_000,
  /** `GET /api/permission-requests`: the default and largest page. */
  maxListPage: 1_000,
} as const;

/** The cancel reasons Gatehouse itself gives or knows (`DELETE …?reason=` is free text up
 *  to 200 characters; metrics count these and put any other under `other`). */
export const CANCEL_REASONS = [
  'agent-cancelled',
  'agent-aborted',
  'server-restart',
  'answered-in-terminal',
  'answered-in-editor',
  'answered-in-agent',
] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

/** Outside the machines, the three unresolved states all read `pending` (protocol-v1.md §0). */
export const REQUEST_STATUSES = ['pending', 'resolved', 'timedOut', 'cancelled'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** Where a pending request is on its way to a human (docs/protocol.md, "delivery"): on no
 *  screen yet, written to at least one socket, or acknowledged by a screen. */
export const DELIVERY_STATES = ['pending', 'sent', 'acked'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export const DECISIONS = ['allow', 'deny'] as const;
/** How an audited request ended: a human's decision, a rule's, its deadline, its cancel. */
export const AUDIT_HOWS = ['human', 'rule', 'timeout', 'cancel'] as const;
export type AuditHow = (typeof AUDIT_HOWS)[number];
/** The audit list's bounds (protocol/http.ts `auditListEntry`, docs/integrations.md). */
export const AUDIT_LIMITS = {
  summaryChars: 200,
  listInputBytes: 4096,
  /** At most this much JSON in one list answer (past its first entry). */
  pageBytes: 1 << 20,
  /** At most this much stored input read (and parsed) for one list answer, past its first entry. */
  pageReadBytes: 8 << 20,
  defaultPage: 100,
  maxPage: 1000,
} as const;
export type Decision = (typeof DECISIONS)[number];

export const RULE_SCOPES = ['session', 'project', 'global'] as const;
/** How a rule's pattern is matched (docs/rules.md): the whole command, a command prefix,
 *  an absolute path glob, or the exact canonical input. */
export const RULE_KINDS = ['bash-exact', 'bash-prefix', 'path-glob', 'exact-input'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
export type RuleScope = (typeof RULE_SCOPES)[number];
