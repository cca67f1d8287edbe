/**
 * CDNOW (../shared/datasets/cdnow) converted to Rekindle's documented events.csv: one
 * purchase per transaction line, amounts in US cents. CDNOW has no products, so every
 * purchase is of one catalogue item, "cd".
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const CDNOW_DIR = fileURLToPath(new URL('../../../shared/datasets/cdnow/', import.meta.url));

export async function cdnowToCsv(out: string, file = `${CDNOW_DIR}CDNOW_master.txt`): Promise<number> {
  const w = createWriteStream(out);
  w.write('event_id,type,user_id,occurred_at,item_id,amount_minor,currency,quantity\n');
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    const [customer, date, cds, dollars] = line.trim().split(/\s+/);
    if (!customer || !/^\d{8}$/.test(date ?? '')) continue; // header
    n++;
    const at = `${date!.slice(0, 4)}-${date!.slice(4, 6)}-${date!.slice(6, 8)}T12:00:00Z`;
    w.write(`cdnow-${n},purchase,c${Number(customer)},${at},cd,${Math.round(Number(dollars) * 100)},USD,${Math.max(1, Number(cds))}\n`);
  }
  await new Promise<void>((r, j) => w.end((e?: Error | null) => (e ? j(e) : r())));
  return n;
}
