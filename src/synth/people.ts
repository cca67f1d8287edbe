/**
 * Synthetic user profiles: names (Chinese and English), locales and IANA time zones,
 * drawn from a caller's {@link Rng} so the platform stays deterministic.
 */
import type { Rng } from './prng.js';

const ZH_SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '林', '高', '罗', '郑', '梁', '谢', '宋', '唐', '许', '韩', '冯', '邓', '曹'];
const ZH_GIVEN = ['伟', '芳', '娜', '秀英', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超', '秀兰', '霞', '平', '刚', '桂英', '晨', '宇轩', '子涵', '欣怡', '浩然', '梓萱', '一诺', '思远', '雨桐', '俊杰', '佳怡', '子墨', '诗琪'];
const EN_FIRST = ['James', 'Mary', 'John', 'Emma', 'Michael', 'Olivia', 'David', 'Sophia', 'Daniel', 'Grace', 'Kevin', 'Linda', 'Jason', 'Amy', 'Ryan', 'Chloe', 'Eric', 'Hannah', 'Alex', 'Mia'];
const EN_LAST = ['Smith', 'Johnson', 'Brown', 'Wilson', 'Taylor', 'Lee', 'Chen', 'Wang', 'Nguyen', 'Martin', 'Clark', 'Lewis', 'Walker', 'Hall', 'Young', 'King'];

/** A time zone with its usual UTC offset in hours (DST ignored: it only shapes hours of day). */
export interface Zone {
  readonly tz: string;
  readonly offsetHours: number;
}

const SHANGHAI: Zone = { tz: 'Asia/Shanghai', offsetHours: 8 };
const ZH_ABROAD: readonly Zone[] = [
  { tz: 'Asia/Hong_Kong', offsetHours: 8 },
  { tz: 'Asia/Taipei', offsetHours: 8 },
  { tz: 'Asia/Singapore', offsetHours: 8 },
  { tz: 'America/Los_Angeles', offsetHours: -8 },
  { tz: 'America/New_York', offsetHours: -5 },
  { tz: 'Europe/London', offsetHours: 0 },
  { tz: 'Australia/Sydney', offsetHours: 10 },
  { tz: 'Asia/Tokyo', offsetHours: 9 },
];
const EN_ZONES: readonly Zone[] = [
  SHANGHAI,
  SHANGHAI,
  { tz: 'America/New_York', offsetHours: -5 },
  { tz: 'America/Los_Angeles', offsetHours: -8 },
  { tz: 'Europe/London', offsetHours: 0 },
  { tz: 'Europe/Berlin', offsetHours: 1 },
  { tz: 'Asia/Singapore', offsetHours: 8 },
  { tz: 'Australia/Sydney', offsetHours: 10 },
];

export interface Person {
  name: string;
  locale: string;
  zone: Zone;
}

/** Mostly Chinese names, zh-CN and Asia/Shanghai; some English speakers and overseas users. */
export function drawPerson(rng: Rng): Person {
  if (rng.chance(0.12)) {
    const name = `${rng.pick(EN_FIRST)} ${rng.pick(EN_LAST)}`;
    const locale = rng.chance(0.75) ? (rng.chance(0.5) ? 'en' : 'en-US') : 'zh-CN';
    return { name, locale, zone: rng.pick(EN_ZONES) };
  }
  const name = rng.pick(ZH_SURNAMES) + rng.pick(ZH_GIVEN);
  const r = rng.next();
  const locale = r < 0.93 ? 'zh-CN' : r < 0.97 ? 'zh-TW' : r < 0.985 ? 'zh-HK' : 'en';
  const zone = locale === 'zh-TW' ? ZH_ABROAD[1] as Zone : locale === 'zh-HK' ? ZH_ABROAD[0] as Zone : rng.chance(0.92) ? SHANGHAI : rng.pick(ZH_ABROAD);
  return { name, locale, zone };
}
