/**
 * The optional LLM fallback against a fake OpenAI-compatible server on loopback (a real
 * node:http server on port 0): a good tool call is used, and garbage, a wrong schema, an error
 * status, a slow model and a refused question all leave the bot's own answer in place.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultClassifier } from '../../../src/bot/classifier.js';
import { createLlmFallback, TOOL_NAME } from '../../../src/bot/llm.js';
import { understand, type UnderstandDeps } from '../../../src/bot/understand.js';
import { loadConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/logger.js';

type Handler = (body: Record<string, any>, res: ServerResponse) => void;

const toolReply = (args: unknown) => ({ choices: [{ message: { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: TOOL_NAME, arguments: JSON.stringify(args) } }] } }] });

describe('LLM fallback against a fake chat-completions server', () => {
  let server: Server;
  let url: string;
  let handler: Handler = (_b, res) => res.end('{}');
  const requests: { body: Record<string, any>; auth: string | undefined }[] = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>;
        requests.push({ body, auth: req.headers.authorization });
        handler(body, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const deps = (timeoutMs = 1000): UnderstandDeps => ({
    classifier: defaultClassifier(),
    knownUserIds: async (ids) => new Set(ids.filter((i) => i === 'u1074')),
    llm: createLlmFallback({ url, model: 'fake-model', apiKey: 'sk-test', timeoutMs, log: silentLogger }),
  });
  const without: UnderstandDeps = { classifier: defaultClassifier(), knownUserIds: async () => new Set() };

  it('uses a valid tool call: the model chooses the intent and slots', async () => {
    requests.length = 0;
    handler = (_b, res) => res.end(JSON.stringify(toolReply({ intent: 'compare_segments', segment: 'champions', other_segment: 'loyal' })));
    const u = await understand(deps(), 'how are the users');
    expect(u).toEqual({ kind: 'answer', intent: { kind: 'compare_segments', a: 'champions', b: 'loyal' }, lang: 'en', via: 'llm' });
    expect(requests).toHaveLength(1);
    const sent = requests[0]!;
    expect(sent.auth).toBe('Bearer sk-test');
    expect(sent.body.model).toBe('fake-model');
    expect(sent.body.tool_choice).toEqual({ type: 'function', function: { name: TOOL_NAME } });
    expect(sent.body.tools[0].function.name).toBe(TOOL_NAME);
    expect(sent.body.messages.at(-1)).toEqual({ role: 'user', content: 'how are the users' });
  });

  it('sends no ids or emails, and takes the user from the question, never from the model', async () => {
    requests.length = 0;
    handler = (_b, res) => res.end(JSON.stringify(toolReply({ intent: 'why' })));
    const llm = createLlmFallback({ url, model: 'fake-model', timeoutMs: 1000, log: silentLogger });
    const q = 'what about <mailto:Bob@Example.com|Bob@Example.com> and a3f9c2, are they ok';
    expect(await llm(q, 'en', { kind: 'id', value: 'a3f9c2' })).toEqual({ kind: 'why', ref: { kind: 'id', value: 'a3f9c2' } });
    expect(await llm(q, 'en', undefined)).toBeUndefined(); // the model cannot name a user
    const text = JSON.stringify(requests.map((r) => r.body));
    expect(text).not.toMatch(/a3f9c2|bob@example\.com/i);
    expect(text).toContain('ⓤ');
    expect(text).toContain('ⓔ');
    expect(requests[0]!.auth).toBeUndefined();
  });

  it('offers an admin intent the model chose as a button, never runs it', async () => {
    handler = (_b, res) => res.end(JSON.stringify(toolReply({ intent: 'pause_outreach' })));
    expect(await understand(deps(), 'how are the users')).toEqual({ kind: 'did_you_mean', lang: 'en', options: [{ kind: 'pause_outreach' }] });
  });

  it.each<[string, Handler]>([
    ['garbage', (_b, res) => res.end('<html>not json')],
    ['no tool call', (_b, res) => res.end(JSON.stringify({ choices: [{ message: { content: 'The answer is 42 users.' } }] }))],
    ['an intent we do not have', (_b, res) => res.end(JSON.stringify(toolReply({ intent: 'drop_database' })))],
    ['slots out of bounds', (_b, res) => res.end(JSON.stringify(toolReply({ intent: 'at_risk', n: 5000 })))],
    ['arguments that are not JSON', (_b, res) => res.end(JSON.stringify({ choices: [{ message: { tool_calls: [{ function: { name: TOOL_NAME, arguments: '{intent:' } }] } }] }))],
    ['an error status', (_b, res) => ((res.statusCode = 500), res.end('{"error":"overloaded"}'))],
    ['out of scope', (_b, res) => res.end(JSON.stringify(toolReply({ intent: 'out_of_scope' })))],
  ])('falls back to its own answer on %s', async (_what, h) => {
    handler = h;
    const q = 'how are the users';
    expect(await understand(deps(), q)).toEqual(await understand(without, q));
  });

  it('falls back within the timeout when the model does not answer (Slack users are waiting)', async () => {
    handler = () => undefined; // never answers
    const started = performance.now();
    const u = await understand(deps(300), 'write me a poem');
    expect(performance.now() - started).toBeLessThan(1500);
    expect(u).toEqual(await understand(without, 'write me a poem'));
  });

  it('sends nothing for a question the classifier placed, or one the rules refuse', async () => {
    requests.length = 0;
    handler = (_b, res) => res.end(JSON.stringify(toolReply({ intent: 'overview' })));
    expect((await understand(deps(), 'how many high risk users in Champions?')).kind).toBe('answer');
    expect((await understand(deps(), 'delete all users')).kind).toBe('out_of_scope');
    expect((await understand(deps(), 'export u1074')).kind).toBe('out_of_scope');
    expect(requests).toHaveLength(0);
  });

  it('is configured by LLM_URL and LLM_MODEL together, off by default', () => {
    expect(loadConfig({}).LLM_URL).toBeUndefined();
    expect(() => loadConfig({ LLM_URL: url })).toThrow('LLM_URL/LLM_MODEL: expected both or neither');
    expect(() => loadConfig({ LLM_URL: 'ftp://x', LLM_MODEL: 'm' })).toThrow('LLM_URL');
    expect(loadConfig({ LLM_URL: url, LLM_MODEL: 'm' }).LLM_TIMEOUT_MS).toBe(1500);
  });
});
