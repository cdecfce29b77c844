/** Types for teamServices.js. */
export declare const DEFAULT_POSTGRES_URL: string;
export declare const DEFAULT_NATS_URL: string;
export declare function postgresAnswers(url: string): Promise<{ ok: true } | { ok: false; why: string }>;
export declare function natsAnswers(url: string): Promise<{ ok: true } | { ok: false; why: string }>;
export declare function shownUrl(url: string): string;
export declare function teamServices(suite: string, env?: Record<string, string | undefined>): Promise<{ run: boolean; fail: boolean; line: string }>;
