/**
 * The sentence under each recommended item ("Because you bought …") in the user's language.
 *
 * `RecommendationReason` restates the union `src/ml/recommend.ts` produces: outreach may only
 * import domain, so the shape is declared here and a unit test checks at compile time that
 * ml's type stays assignable to it.
 */

/** Why an item was recommended (structurally the same as ml's `RecommendationReason`). */
export type RecommendationReason =
  | { readonly kind: 'because_bought'; readonly itemId: string }
  | { readonly kind: 'because_viewed'; readonly itemId: string }
  | { readonly kind: 'similar_topic'; readonly itemId: string; readonly topic: string }
  | { readonly kind: 'popular_in'; readonly category: string }
  | { readonly kind: 'popular' };

/** The languages we have templates for. */
export type EmailLocale = 'zh-CN' | 'en';

/**
 * The template language for a user's stored locale: any Chinese tag (`zh`, `zh-CN`, `zh_TW`,
 * `zh-Hans-CN`…) → `zh-CN`; everything else, including null and garbage → `en`.
 */
export function pickLocale(locale: string | null | undefined): EmailLocale {
  return typeof locale === 'string' && /^\s*zh(?:[-_]|\s*$)/i.test(locale) ? 'zh-CN' : 'en';
}

function assertUnreachable(x: never): never {
  throw new Error(`unhandled recommendation reason: ${JSON.stringify(x)}`);
}

function clean(s: string | undefined): string | undefined {
  const t = s?.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ').trim();
  return t ? t : undefined;
}

/**
 * Renders a reason as plain text (escape it for HTML like any other value).
 * @param locale a stored locale tag; anything not Chinese renders English
 * @param titleOf the title of a referenced item; when it returns undefined the text falls back
 *   to a generic phrase rather than showing an id
 */
export function renderReason(
  reason: RecommendationReason,
  locale: string | null,
  titleOf: (itemId: string) => string | undefined,
): string {
  const zh = pickLocale(locale) === 'zh-CN';
  switch (reason.kind) {
    case 'because_bought': {
      const t = clean(titleOf(reason.itemId));
      if (zh) return t ? `因为你购买了《${t}》` : '与你购买过的课程相关';
      return t ? `Because you bought “${t}”` : 'Because of a course you bought';
    }
    case 'because_viewed': {
      const t = clean(titleOf(reason.itemId));
      if (zh) return t ? `与你看过的《${t}》相似` : '与你看过的课程相似';
      return t ? `Because you viewed “${t}”` : 'Similar to a course you viewed';
    }
    case 'similar_topic': {
      const topic = clean(reason.topic);
      if (topic) return zh ? `相似主题：${topic}` : `Similar topic: ${topic}`;
      const t = clean(titleOf(reason.itemId));
      if (zh) return t ? `与《${t}》主题相似` : '与你感兴趣的主题相似';
      return t ? `Similar to “${t}”` : 'On a topic you like';
    }
    case 'popular_in': {
      const c = clean(reason.category);
      if (zh) return c ? `在「${c}」中很受欢迎` : '热门课程';
      return c ? `Popular in ${c}` : 'Popular right now';
    }
    case 'popular':
      return zh ? '热门课程' : 'Popular right now';
    default:
      return assertUnreachable(reason);
  }
}
