/**
 * `gatehouse pair` (owner; contract-2 §4, docs/operations.md "Pairing a phone"): asks
 * the server for a one-time pairing link (`POST /api/pairings`) and prints it with a QR
 * code for a phone's camera. It finds the server like `hook` (GATEHOUSE_URL, the data
 * directory GATEHOUSE_DATA_DIR else ~/.gatehouse) and calls with the OWNER token
 * (GATEHOUSE_TOKEN, else `<data-dir>/token`), but only over a connection on which the
 * server first proved, by `hello`, that it knows the agent token of the same data
 * directory (GATEHOUSE_AGENT_TOKEN, else `<data-dir>/agent-token`). Port 3000 is every
 * dev server's default: whatever else answers there gets the hello and nothing more.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import { z } from 'zod';
import { loadClientConfig, TOKEN_SHAPE } from '../agents/client/config.ts';
import { HttpFailure } from '../agents/client/http.ts';
import { PinnedServer } from '../agents/client/pinned.ts';
import { TOKEN_FILE } from '../security/token.ts';

const USAGE =
  'Usage: gatehouse pair\n  prints a one-time link (and its QR code) that makes a browser a device; valid once, for 10 minutes.\n  Server: GATEHOUSE_URL; owner token: GATEHOUSE_TOKEN, else <data-dir>/token; proof: GATEHOUSE_AGENT_TOKEN, else <data-dir>/agent-token.\n';

export const PAIR_TIMEOUT_MS = 5000;

/** What `POST /api/pairings` answers (contract-2 §4). The link is printed to a terminal:
 *  only an http(s) URL of printable ASCII, so an answer cannot carry escape sequences. */
const PairingAnswer = z.object({
  url: z
    .string()
    .regex(/^https?:\/\/[\x21-\x7e]+$/, 'not an http(s) URL of printable characters')
    .max(2048),
  code: z.string(),
  expiresAt: z.number(),
});

function loadOwnerToken(env: NodeJS.ProcessEnv, dataDir: string): { token: string } | { missing: string } {
  const fromEnv = env.GATEHOUSE_TOKEN?.trim();
  if (fromEnv) return TOKEN_SHAPE.test(fromEnv) ? { token: fromEnv } : { missing: 'GATEHOUSE_TOKEN is not a valid token (16 to 512 printable characters)' };
  const file = join(dataDir, TOKEN_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      missing: `no owner token: set GATEHOUSE_TOKEN, or run this as the user whose data directory holds it (${file}: ${code === 'ENOENT' ? 'does not exist' : (code ?? (error as Error).message)})`,
    };
  }
  return TOKEN_SHAPE.test(text) ? { token: text } : { missing: `no owner token: ${file} does not hold a valid token (16 to 512 printable characters)` };
}

export default async function main(argv: string[]): Promise<number> {
  let help: boolean | undefined;
  try {
    help = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true }).values.help;
  } catch (error) {
    process.stderr.write(`gatehouse pair: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const fail = (message: string) => {
    process.stderr.write(`gatehouse pair: ${message}\n`);
    return 1;
  };

  const config = loadClientConfig(process.env);
  // Both credentials are checked before anything goes out: without the agent token there
  // is no way to know who answers, so nothing is sent at all.
  if (!config.agentToken) return fail(`${config.missingToken}; pair needs it to check the server before it sends the owner token`);
  const owner = loadOwnerToken(process.env, config.dataDir);
  if ('missing' in owner) return fail(owner.missing);

  const server = new PinnedServer({ baseUrl: config.baseUrl, agentToken: config.agentToken, bearer: owner.token });
  let answer: { status: number; body: unknown };
  try {
    answer = await server.call('POST', '/api/pairings', { timeoutMs: PAIR_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof HttpFailure) return fail(`${error.message} (GATEHOUSE_URL ${config.baseUrl}, data directory ${config.dataDir})`);
    throw error;
  } finally {
    server.close();
  }
  if (answer.status !== 201) {
    const message = (answer.body as { error?: { message?: unknown } } | undefined)?.error?.message;
    const why = answer.status === 401 ? 'the owner token was refused' : `the server answered ${answer.status}`;
    return fail(`${why}${typeof message === 'string' ? `: ${JSON.stringify(message)}` : ''}`);
  }
  const parsed = PairingAnswer.safeParse(answer.body);
  if (!parsed.success)
    return fail(`the server's answer is not a pairing link: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  const { url, expiresAt } = parsed.data;
  const qr = await QRCode.toString(url, { type: 'terminal', small: true });
  process.stdout.write(
    `${url}\n\n${qr}\nOpen it on the phone (scan the code) by ${new Date(expiresAt).toLocaleTimeString()}: it works once, for 10 minutes, and makes that browser a device.\n`,
  );
  return 0;
}
