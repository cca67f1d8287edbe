import { describe, expect, it } from 'vitest';
import { didYouMeanMessage, outOfScopeMessage } from '../../../src/bot/ask.js';
import { defaultClassifier } from '../../../src/bot/classifier.js';
import { CORPORA, utterances } from '../../../src/bot/corpus/index.js';
import { entityCandidates, maskEntities, MAX_CANDIDATES } from '../../../src/bot/entities.js';
import { parseChoice } from '../../../src/bot/intent-schema.js';
import { ADMIN_INTENTS, intentWithSlots, parseCommand, type IntentKind } from '../../../src/bot/intent.js';
import { IntentClassifier, trainClassifier } from '../../../src/bot/nlu.js';
import { INTENT_EXAMPLES, understand, type Understanding } from '../../../src/bot/understand.js';
import { fitSoftmax, SoftmaxModel } from '../../../src/ml/softmax.js';

const ALL_INTENTS = Object.keys(INTENT_EXAMPLES.en) as IntentKind[];

describe('entityCandidates', () => {
  it.each([
    ["what's up with u1074?", ['u1074']],
    ['看下u1074', ['u1074']],
    ['u1074 推荐', ['u1074']],
    ['tell me about a3f9c2', ['a3f9c2']],
    ['details on 7F3E9A2C-1B4D-4E5F-9A8B-0C1D2E3F4A5B', ['7F3E9A2C-1B4D-4E5F-9A8B-0C1D2E3F4A5B']],
    ["what's up with 42", ['42']],
    ['#42 please', ['42']],
    ['what about u7', ['u7']],
    ['top 20 users in the last 30 days', []],
    ['列出前 20 个高风险用户', []],
    ['campaigns 30d', []],
    ['q3 results at 3pm', []],
  ])('%s → %j', (text, ids) => {
    expect(entityCandidates(text).ids).toEqual(ids);
  });

  it("reads emails in Slack's mailto form, lower-cased, and does not take them for ids", () => {
    expect(entityCandidates('why is <mailto:Bob.1@Example.com|Bob.1@Example.com> at risk')).toEqual({ emails: ['bob.1@example.com'], ids: [] });
  });

  it(`keeps at most ${MAX_CANDIDATES} candidates of each kind however many the text has`, () => {
    const many = Array.from({ length: 40 }, (_, i) => `u${i} x${i}@a.io`).join(' ');
    const c = entityCandidates(many);
    expect(c.ids).toEqual(['u0', 'u1', 'u2']);
    expect(c.emails).toEqual(['x0@a.io', 'x1@a.io', 'x2@a.io']);
  });

  it('reads only the first 500 characters, and a hostile 50k-character text in milliseconds', () => {
    expect(entityCandidates(`${'a '.repeat(260)}u1074`).ids).toEqual([]);
    const started = performance.now();
    for (const t of ['1'.repeat(50_000), 'a1-'.repeat(20_000), '#'.repeat(50_000), '@a.'.repeat(20_000)]) entityCandidates(t);
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('masks entities for the classifier: ids of every shape read the same', () => {
    expect(maskEntities("what's up with u1074")).toBe(maskEntities("what's up with a3f9c2"));
    expect(maskEntities('why is bob@example.com at risk')).toBe('why is  ⓔ  at risk');
    expect(maskEntities('top 20 users')).toBe('top 0 users');
  });
});

describe('fitSoftmax', () => {
  // Two features, three classes: class = which feature is on (or neither).
  const rows = [
    { indices: [0], values: [1] },
    { indices: [1], values: [1] },
    { indices: [], values: [] },
  ];
  const labels = [0, 1, 2];

  it('learns a separable toy problem and is deterministic for a seed', () => {
    const m = fitSoftmax(rows, labels, 2, 3, { epochs: 200, seed: 3 });
    rows.forEach((r, i) => {
      const p = m.predict(r);
      expect(p.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
      expect(p.indexOf(Math.max(...p))).toBe(i);
    });
    const again = fitSoftmax(rows, labels, 2, 3, { epochs: 200, seed: 3 });
    expect(Array.from(again.weights)).toEqual(Array.from(m.weights));
    expect(SoftmaxModel.load(JSON.parse(JSON.stringify(m.toJSON()))).predict(rows[0]!)).toEqual(m.predict(rows[0]!));
  });

  it('names what is wrong with its input', () => {
    expect(() => fitSoftmax([], [], 2, 3)).toThrow('no rows');
    expect(() => fitSoftmax(rows, [0, 1, 3], 2, 3)).toThrow('label of row 2 must be an integer in [0, 3) (got 3)');
    expect(() => fitSoftmax([{ indices: [5], values: [1] }], [0], 2, 3)).toThrow('row 0 has feature 5 outside [0, 2)');
    expect(() => fitSoftmax(rows, labels, 2, 1)).toThrow('nClasses must be an integer ≥ 2');
  });
});

describe('the corpus', () => {
  it('has at least 40 utterances per intent per language, every intent, and an out-of-scope set', () => {
    for (const lang of ['en', 'zh'] as const) {
      for (const label of [...ALL_INTENTS, 'out_of_scope'] as const) {
        expect(CORPORA[lang][label].flat().length, `${lang} ${label}`).toBeGreaterThanOrEqual(40);
      }
    }
  });

  it('never gives one utterance two labels', () => {
    const seen = new Map<string, string>();
    for (const u of utterances()) {
      const key = `${u.lang}:${u.text.toLowerCase()}`;
      const before = seen.get(key);
      if (before !== undefined) expect(before, u.text).toBe(u.label);
      seen.set(key, u.label);
    }
  });
});

describe('understand', () => {
  const classifier = defaultClassifier();
  const known = new Set(['u1074', '42', 'a3f9c2']);
  const lookups: string[][] = [];
  const deps = {
    classifier,
    knownUserIds: async (ids: readonly string[]) => {
      lookups.push([...ids]);
      return new Set(ids.filter((i) => known.has(i)));
    },
  };
  const kind = (u: Understanding) => (u.kind === 'answer' ? u.intent.kind : u.kind);

  it.each([
    ['show me the overall picture', 'overview'],
    ["how's retention looking overall", 'overview'],
    ['which cohort is biggest', 'segments'],
    ["what's up with u1074?", 'user'],
    ['courses for u1074', 'recommend'],
    ['what would u1074 enjoy next', 'recommend'],
    ['看下 u1074', 'user'],
    ['u1074 推荐', 'recommend'],
    ['u1074 流失原因', 'why'],
    ["what's up with 42?", 'user'],
    ['tell me about a3f9c2', 'user'],
    ['did the coupons pay off?', 'roi'],
    ['发券划算吗', 'roi'],
  ])('%s → %s', async (text, want) => {
    const u = await understand(deps, text);
    expect(kind(u)).toBe(want);
    if (u.kind === 'answer' && 'ref' in u.intent) expect(known.has(u.intent.ref.value)).toBe(true);
  });

  it('looks candidates up once per question, at most three, and not at all without one', async () => {
    lookups.length = 0;
    await understand(deps, 'u1 u2 u3 u4 u5 why');
    await understand(deps, 'show me the overall picture');
    expect(lookups).toEqual([['u1', 'u2', 'u3']]);
  });

  it('names an unknown id instead of guessing, and asks which user when none is named', async () => {
    const u = await understand(deps, "what's up with u99999?");
    expect(u).toMatchObject({ kind: 'invalid', error: expect.stringContaining('"u99999"') });
    const which = await understand(deps, 'why might they churn, the reasons for this customer');
    expect(['invalid', 'out_of_scope', 'did_you_mean']).toContain(which.kind);
    if (which.kind === 'answer') throw new Error(`answered ${JSON.stringify(which.intent)} without a user`);
  });

  it('does not take a bare number for a user unless the wording is about one', async () => {
    expect(kind(await understand(deps, 'what is 42 + 42'))).not.toBe('user');
  });

  it('refuses what the rules refuse even when a known user is named', async () => {
    for (const t of ['delete u1074', '给 u1074 发一张优惠券', 'send u1074 a coupon', 'export a3f9c2']) {
      expect(kind(await understand(deps, t)), t).toBe('out_of_scope');
    }
  });

  it('never runs an admin intent the classifier found: it offers it as a button', async () => {
    const u = await understand(deps, 'fresh scores please');
    expect(u).toEqual({ kind: 'did_you_mean', lang: 'en', options: [{ kind: 'rescore' }] });
    // Plain orders the rules parse act (the bot still checks the admin); anything else is offered.
    for (const t of ['freeze the emails', '冻结触达', 'new scores please', 'turn the emails back on', 'kick scoring', '开跑评分']) {
      const r = await understand(deps, t);
      if (r.kind === 'answer' && ADMIN_INTENTS.includes(r.intent.kind)) expect(r.via, t).toBe('rules');
    }
  });

  it('never reads a mention of the last rescore as an order to rescore', async () => {
    for (const t of ['segment changes since last rescore', 'what changed since the last rescore?', '上次评分以来哪个分群增长最多']) {
      const u = await understand(deps, t);
      expect(u.kind === 'answer' ? u.intent.kind : u.kind, t).not.toBe('rescore');
      if (u.kind === 'did_you_mean') expect(u.options.map((o) => o.kind), t).not.toContain('rescore');
    }
    expect(await understand(deps, 'rescore')).toMatchObject({ kind: 'answer', intent: { kind: 'rescore' }, via: 'rules' });
  });

  it('counts users only when the question is about users ("汇率多少" is not)', async () => {
    for (const t of ['汇率多少', 'how much is 5 miles in km', '100 美元换多少欧元']) expect(kind(await understand(deps, t)), t).not.toBe('count');
    expect(await understand(deps, '多少人有流失风险')).toMatchObject({ kind: 'answer', intent: { kind: 'count', tier: 'high' } });
    expect(await understand(deps, 'how many customers do we have')).toMatchObject({ kind: 'answer', intent: { kind: 'count' } });
  });

  it('reads "give me …" as a question, and a known id anywhere as the user asked about', async () => {
    expect(kind(await understand(deps, 'give me 10 promising users'))).toBe('segment');
    expect(await understand(deps, '模型为什么觉得 u1074 会走')).toMatchObject({ kind: 'answer', intent: { kind: 'why', ref: { kind: 'id', value: 'u1074' } } });
    // An id-shaped token nobody has leaves the rules' reading alone.
    expect(kind(await understand(deps, 'how good is the model for u99999'))).toBe('model');
  });

  it('offers an admin reading beside the rules’ one when the classifier is sure of it', async () => {
    const u = await understand(deps, 'switch campaigns back on');
    expect(u.kind).toBe('did_you_mean');
    if (u.kind === 'did_you_mean') expect(u.options.map((o) => o.kind)).toEqual(['resume_outreach', 'campaigns']);
  });

  it('answers out-of-scope questions with three examples, in the language asked', async () => {
    for (const [t, lang] of [['write me a poem', 'en'], ['今天天气怎么样', 'zh'], ['一'.repeat(50_000), 'zh'], ['what is the capital of france', 'en']] as const) {
      const u = await understand(deps, t);
      expect(u.kind, t.slice(0, 20)).toBe('out_of_scope');
      if (u.kind !== 'out_of_scope') continue;
      expect(u.lang).toBe(lang);
      expect(new Set(u.examples).size).toBe(3);
      for (const e of u.examples) expect(Object.values(INTENT_EXAMPLES[lang])).toContain(e);
    }
  });

  it('every out-of-scope example is itself understood as its intent', async () => {
    for (const lang of ['en', 'zh'] as const) {
      for (const [k, text] of Object.entries(INTENT_EXAMPLES[lang])) {
        const u = await understand({ ...deps, knownUserIds: async (ids) => new Set(ids) }, text);
        const got = u.kind === 'answer' ? u.intent.kind : u.kind === 'did_you_mean' ? u.options[0]?.kind : u.kind;
        expect(got, `${lang}: ${text}`).toBe(k);
      }
    }
  });
});

describe('intentWithSlots', () => {
  it('reads slots with the rules’ extractors and checks their bounds', () => {
    expect(intentWithSlots('at_risk', 'top 20 risky ones in champions', 'en')).toEqual({ ok: true, lang: 'en', intent: { kind: 'at_risk', n: 20, segment: 'champions' } });
    expect(intentWithSlots('roi', 'last two weeks', 'en')).toEqual({ ok: true, lang: 'en', intent: { kind: 'roi', days: 14 } });
    expect(intentWithSlots('segment', 'no segment named here', 'en')).toEqual({ ok: true, lang: 'en', intent: { kind: 'segments' } });
    expect(intentWithSlots('at_risk', 'top 500', 'en')).toMatchObject({ ok: false, reason: 'invalid', error: expect.stringContaining('from 1 to 100') });
    expect(intentWithSlots('why', 'why would they leave', 'en')).toEqual({ ok: false, lang: 'en', reason: 'not_understood' });
  });
});

describe('slash subcommands for questions across runs', () => {
  it('parse changes, trend [runs] and compare <segment> <segment>, with errors naming the problem', () => {
    expect(parseCommand('changes')).toEqual({ ok: true, lang: 'en', intent: { kind: 'segment_change' } });
    expect(parseCommand('trend')).toEqual({ ok: true, lang: 'en', intent: { kind: 'risk_trend', runs: 10 } });
    expect(parseCommand('trend 5')).toEqual({ ok: true, lang: 'en', intent: { kind: 'risk_trend', runs: 5 } });
    expect(parseCommand('趋势 5')).toEqual({ ok: true, lang: 'zh', intent: { kind: 'risk_trend', runs: 5 } });
    expect(parseCommand('compare champions cant lose them')).toEqual({ ok: true, lang: 'en', intent: { kind: 'compare_segments', a: 'champions', b: 'cant_lose_them' } });
    expect(parseCommand('对比 核心用户 忠诚用户')).toEqual({ ok: true, lang: 'zh', intent: { kind: 'compare_segments', a: 'champions', b: 'loyal' } });
    expect(parseCommand('trend 50')).toMatchObject({ ok: false, error: expect.stringContaining('from 2 to 30, got 50') });
    expect(parseCommand('compare champions')).toMatchObject({ ok: false, error: expect.stringContaining('name two segments') });
    expect(parseCommand('changes now')).toMatchObject({ ok: false, error: expect.stringContaining('takes no arguments') });
  });
});

describe('did-you-mean buttons and their values', () => {
  it('carry a value that parses back to the same choice; anything else is refused', () => {
    const m = didYouMeanMessage([{ kind: 'at_risk', n: 10, segment: 'loyal' }, { kind: 'overview' }], 'en');
    const actions = m.blocks.find((b) => b.type === 'actions') as { elements: { action_id: string; value: string; text: { text: string } }[] };
    expect(actions.elements.map((e) => e.action_id)).toEqual(['ask_intent_0', 'ask_intent_1']);
    expect(actions.elements.map((e) => e.text.text)).toEqual(['Top 10 at-risk users in Loyal', 'Overview']);
    expect(parseChoice(actions.elements[0]!.value)).toEqual({ lang: 'en', intent: { kind: 'at_risk', n: 10, segment: 'loyal' } });
    for (const bad of ['not json', '{"lang":"en","intent":{"kind":"drop"}}', '{"lang":"en","intent":{"kind":"at_risk","n":1000}}', '{"lang":"fr","intent":{"kind":"overview"}}', '{"lang":"en","intent":{"kind":"overview","extra":1}}', 'x'.repeat(3000)]) {
      expect(parseChoice(bad), bad.slice(0, 40)).toBeUndefined();
    }
  });

  it('escape the examples they echo', () => {
    expect(outOfScopeMessage(['<!channel> hi', 'a', 'b'], 'en').text).not.toContain('<!channel>');
  });
});

describe('IntentClassifier', () => {
  it('round-trips through JSON with the same probabilities', () => {
    const c = trainClassifier(utterances().filter((u) => u.lang === 'en' && ['overview', 'roi', 'out_of_scope'].includes(u.label)), { epochs: 5 });
    const back = IntentClassifier.load(JSON.parse(JSON.stringify(c.toJSON())));
    expect(back.rank('did the coupons pay off')).toEqual(c.rank('did the coupons pay off'));
    expect(() => trainClassifier([{ text: 'x', label: 'roi' }])).toThrow('need at least two labels');
  });
});
