/**
 * HTTP bodies (protocol-v1.md §4). Requests are parsed with these schemas at the edge;
 * responses are typed with them so server and clients agree.
 */
import { z } from 'zod';
import { ERROR_CODES, REQUEST_STATUSES } from './constants.ts';
import * as f from './fields.ts';

export const createRequestBody = z.object({
  toolName: f.toolName,
  input: f.toolInput,
  context: f.requestContext.optional(),
  timeoutMs: f.timeoutMs.optional(),
});

export const createRequestResult = z.object({
  id: f.id,
  status: z.literal('pending'),
  expiresAt: f.timestamp,
  seq: f.seq,
});

export const decisionBody = z.object({
  decision: f.decision,
  updatedInput: f.toolInput.optional(),
  message: f.reasonMessage.optional(),
  remember: f.remember.optional(),
});

export const requestView = z.object({
  id: f.id,
  status: z.enum(REQUEST_STATUSES),
  toolName: f.toolName,
  input: z.record(z.string(), z.unknown()),
  context: f.requestContext,
  decision: f.decision.optional(),
  updatedInput: z.record(z.string(), z.unknown()).optional(),
  message: z.string().optional(),
  decidedBy: z.string().optional(),
  expiresAt: f.timestamp,
  createdAt: f.timestamp,
  seq: f.seq,
});

/** A page of requests; `next`: pass it as `after` for the following page (absent on the last). */
export const requestList = z.object({ requests: z.array(requestView), next: f.id.optional() });

export const errorBody = z.object({
  error: z.object({
    code: z.enum(Object.values(ERROR_CODES) as [string, ...string[]]),
    message: z.string(),
  }),
});

export type CreateRequestBody = z.infer<typeof createRequestBody>;
export type CreateRequestResult = z.infer<typeof createRequestResult>;
export type DecisionBody = z.infer<typeof decisionBody>;
export type RequestView = z.infer<typeof requestView>;
export type RequestList = z.infer<typeof requestList>;
export type ErrorBody = z.infer<typeof errorBody>;
