// Search over a device's own history, in the SDK alone (no server, nothing leaves the process):
// the local index (web/sdk/search.ts) over N synthetic messages in a fake-indexeddb store, as a
// device holds them. Measures building the index from the store, saving its snapshot (time and
// size), loading it back, what following the history costs per change (the store's journal
// record, the index's update) against saving a snapshot, and search latency over a few hundred
// queries: single words, prefixes, two words, a typo, each in all conversations and in one.
//
//   bash bench/run search [--messages 100000] [--conversations 200] [--queries 400] [--seed 1]
import 'fake-indexeddb/auto';
import { parseArgs } from 'node:util';
import { openDB } from 'idb';
import { Store } from '../web/sdk/store.ts';
import { LocalSearch, fold, words } from '../web/sdk/search.ts';

const { values: opts } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    conversations: { type: 'string', default: '200' },
    queries: { type: 'string', default: '400' },
    seed: { type: 'string', default: '1' },
  },
});
const MESSAGES = Number(opts.messages);
const CONVERSATIONS = Number(opts.conversations);
const QUERIES = Number(opts.queries);

// ---- a deterministic chat history ----------------------------------------------------------------

let state = Number(opts.seed) >>> 0 || 1;
/** xorshift32: the same history for the same seed, run after run. */
function random() {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 2 ** 32;
}
const pick = (list) => list[Math.floor(random() * list.length)];
/** Words drawn the way language uses them: a few very often, most rarely (Zipf, s ≈ 1). */
function zipf(list) {
  const i = Math.floor(Math.exp(random() * Math.log(list.length + 1))) - 1;
  return list[Math.min(list.length - 1, i)];
}

const LANGUAGES = [
  // [share, separator, words (most common first)]
  [0.36, ' ', `I you the to a and it is that of in for me we my be on do have just so not what are this can with no yes ok
    was at but get all like know will go up about out how if your when now good time see think one did too then there
    going today tomorrow tonight morning later back home work lunch dinner coffee meeting call text send thanks sorry
    love great sure maybe really right need want come let make still here where why who soon week weekend friday
    saturday sunday monday train bus car late early party birthday movie game music photo picture video link file
    doctor school class exam project deadline office boss team client report budget invoice flight hotel trip beach
    holiday rain weather cold hot pizza burger beer wine cake shopping groceries milk bread kids mom dad sister brother
    happy tired busy free awesome cool funny crazy weird perfect amazing terrible honestly literally actually basically`],
  [0.12, ' ', `que de no a la el y es en lo un por me qué se te los con para mi está si bien pero ya las sí eso como muy
    hoy mañana noche tarde casa trabajo comida cena café reunión llamada mensaje gracias perdón vale claro quizás
    semana fin viernes sábado domingo tren coche fiesta cumpleaños película partido música foto vídeo enlace médico
    escuela clase examen proyecto jefe equipo cliente informe vuelo hotel viaje playa vacaciones lluvia frío calor
    cerveza vino tarta compras leche pan niños mamá papá hermana hermano feliz cansado ocupado genial increíble`],
  [0.08, ' ', `que não de o a e é um para com você eu se na no isso mas tá sim bem muito hoje amanhã noite tarde casa
    trabalho almoço jantar café reunião ligação mensagem obrigado desculpa beleza claro talvez semana sexta sábado
    domingo ônibus carro festa aniversário filme jogo música foto vídeo médico escola aula prova projeto chefe equipe
    cliente relatório voo hotel viagem praia férias chuva frio calor cerveja vinho bolo compras leite pão crianças
    mãe pai irmã irmão feliz cansado ocupado ótimo incrível saudade`],
  [0.08, ' ', `je de la le et à les un est pas que en tu on ça pour ce qui il elle nous vous mais oui non bien très
    aujourd hui demain soir matin maison travail déjeuner dîner café réunion appel message merci désolé d accord
    peut être semaine vendredi samedi dimanche train voiture fête anniversaire film match musique photo vidéo lien
    médecin école cours examen projet patron équipe client rapport vol hôtel voyage plage vacances pluie froid chaud
    bière vin gâteau courses lait pain enfants maman papa sœur frère content fatigué occupé génial incroyable`],
  [0.08, ' ', `ich du die der und das ist nicht zu es ein wir ja nein mit auf für was wie bin hast kann heute morgen
    abend nacht zuhause arbeit mittagessen abendessen kaffee besprechung anruf nachricht danke sorry klar vielleicht
    woche wochenende freitag samstag sonntag zug auto party geburtstag film spiel musik foto video link arzt schule
    unterricht prüfung projekt chef team kunde bericht flug hotel reise strand urlaub regen kalt warm bier wein kuchen
    einkaufen milch brot kinder mama papa schwester bruder glücklich müde beschäftigt super toll straße größe grüße`],
  [0.08, ' ', `я ты не и в что на это да нет как мы он она так все ну у меня тебя сегодня завтра вечером утром дома
    работа обед ужин кофе встреча звонок сообщение спасибо извини хорошо конечно может неделя выходные пятница
    суббота воскресенье поезд машина вечеринка день рождения фильм игра музыка фото видео ссылка врач школа урок
    экзамен проект начальник команда клиент отчёт рейс отель поездка пляж отпуск дождь холодно жарко пиво вино торт
    магазин молоко хлеб дети мама папа сестра брат рад устал занят отлично ёлка`],
  [0.05, ' ', `أنا أنت في من على هذا لا نعم ما كيف متى اليوم غدا مساء صباح البيت العمل غداء عشاء قهوة اجتماع مكالمة
    رسالة شكرا آسف حسنا ربما الأسبوع الجمعة السبت الأحد القطار السيارة حفلة عيد ميلاد فيلم مباراة موسيقى صورة فيديو
    طبيب مدرسة امتحان مشروع مدير فريق عميل تقرير رحلة فندق شاطئ إجازة مطر بارد حار كعكة حليب خبز أطفال أمي أبي
    أختي أخي سعيد متعب مشغول رائع`],
  [0.04, ' ', `मैं तुम आप है हैं का की के में से को और नहीं हाँ क्या कैसे कब आज कल शाम सुबह घर काम खाना कॉफ़ी मीटिंग
    फ़ोन संदेश धन्यवाद माफ़ ठीक शायद हफ़्ता शुक्रवार शनिवार रविवार ट्रेन गाड़ी पार्टी जन्मदिन फ़िल्म मैच संगीत फ़ोटो वीडियो
    डॉक्टर स्कूल परीक्षा प्रोजेक्ट बॉस टीम रिपोर्ट यात्रा होटल छुट्टी बारिश ठंड गर्मी केक दूध रोटी बच्चे माँ पापा बहन भाई
    खुश थका व्यस्त बढ़िया`],
  [0.04, '', `我 你 的 是 了 不 在 有 这 那 好 吗 吧 我们 今天 明天 晚上 早上 家 工作 午饭 晚饭 咖啡 开会 电话 消息 谢谢
    对不起 好的 可能 周末 星期五 星期六 星期天 火车 开车 聚会 生日 电影 比赛 音乐 照片 视频 医生 学校 考试 项目
    老板 团队 客户 报告 航班 酒店 旅行 海边 假期 下雨 冷 热 啤酒 蛋糕 购物 牛奶 面包 孩子 妈妈 爸爸 姐姐 哥哥 开心
    累 忙 太好了 东京 北京 上海`],
  [0.03, '', `私 あなた は が を に で と の も です ます した ない 今日 明日 今夜 朝 家 仕事 昼ご飯 晩ご飯 コーヒー 会議
    電話 メッセージ ありがとう ごめん 大丈夫 たぶん 週末 金曜日 土曜日 日曜日 電車 車 パーティー 誕生日 映画 試合 音楽
    写真 動画 医者 学校 試験 プロジェクト 上司 チーム お客様 報告 フライト ホテル 旅行 海 休み 雨 寒い 暑い ビール
    ケーキ 買い物 牛乳 パン 子供 お母さん お父さん 嬉しい 疲れた 忙しい 最高 東京 大阪`],
].map(([share, separator, list]) => ({ share, separator, words: list.trim().split(/\s+/) }));

const NAMES = `Ana Ben Carla Diego Emma Farid Gabi Hana Ivan Jana Kofi Lena Mateo Nina Omar Priya Quentin Rosa Sven Tariq
  Uma Viktor Wen Ximena Yusuf Zoe Oliveira Müller Dubois Ivanova Nakamura Zhang Haddad Sharma`.trim().split(/\s+/);
const EMOJI = ['😂', '👍', '❤️', '🙏', '😅', '🎉', '😭', '🔥', '🙂', '🤔'];

function typo(word) {
  if (word.length < 4) return word;
  const i = 1 + Math.floor(random() * (word.length - 2));
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return random() < 0.5 ? word.slice(0, i) + word.slice(i + 1) : word.slice(0, i) + pick([...letters]) + word.slice(i + 1);
}

function chatText() {
  let r = random();
  const language = LANGUAGES.find((l) => (r -= l.share) < 0) ?? LANGUAGES[0];
  const length = 1 + Math.floor(random() ** 2 * 24);
  const parts = [];
  for (let i = 0; i < length; i += 1) {
    const x = random();
    if (x < 0.03) parts.push(pick(NAMES));
    else if (x < 0.05) parts.push(String(Math.floor(random() * 10_000)));
    else if (x < 0.07) parts.push(pick(EMOJI));
    else if (x < 0.075) parts.push(`https://example.org/${Math.floor(random() * 1e9).toString(36)}`);
    else {
      const w = zipf(language.words);
      parts.push(random() < 0.03 ? typo(w) : w);
    }
  }
  let text = parts.join(language.separator);
  if (random() < 0.3) text = text[0].toUpperCase() + text.slice(1);
  return text + (random() < 0.4 ? pick(['?', '!', '.', '...', ' :)']) : '');
}

const conversations = Array.from({ length: CONVERSATIONS }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
const users = Array.from({ length: 50 }, (_, i) => `10000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
const START = Date.UTC(2025, 0, 1);
const SPAN = 365 * 86_400_000;
const seqs = new Map();
const history = [];
for (let i = 0; i < MESSAGES; i += 1) {
  // A few conversations hold most of the history, as in anyone's chat list.
  const conversationId = zipf(conversations);
  const seq = (seqs.get(conversationId) ?? 0) + 1;
  seqs.set(conversationId, seq);
  const senderId = pick(users);
  const clientMsgId = `20000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  history.push({
    key: `${senderId}:${clientMsgId}`, id: `30000000-0000-4000-8000-${String(i).padStart(12, '0')}`, clientMsgId, conversationId, seq,
    senderId, senderDeviceId: null, text: chatText(), createdAt: new Date(START + (i / MESSAGES) * SPAN).toISOString(), status: 'received',
  });
}

// ---- measuring ---------------------------------------------------------------------------------

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (x) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(x < 10 ? 2 : 1)} ms`);
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
async function timed(work) {
  const t0 = performance.now();
  const result = await work();
  return [performance.now() - t0, result];
}
const heap = () => { globalThis.gc?.(); return process.memoryUsage().heapUsed; };
const rows = [];
const row = (what, figure) => { rows.push([what, figure]); console.log(`${what}: ${figure}`); };

console.log(`search bench: ${MESSAGES.toLocaleString('en')} messages in ${CONVERSATIONS} conversations, ${QUERIES} queries, Node ${process.versions.node}`);
const textBytes = history.reduce((n, m) => n + Buffer.byteLength(m.text), 0);
row('messages', `${MESSAGES.toLocaleString('en')} (${mb(textBytes)} of text, ${(textBytes / MESSAGES).toFixed(0)} bytes each on average)`);

// The store as a device holds it (written directly, as an SDK from before search left it: no
// snapshot, no journal), then the index built from it.
const name = `bench-search-${Date.now()}`;
await Store.open(name).then((s) => s.close());
{
  const db = await openDB(`e2e-chat:${name}`);
  const tx = db.transaction('messages', 'readwrite');
  for (const m of history) tx.store.put(m);
  await tx.done;
  db.close();
}

let store = await Store.open(name);
const heapBefore = heap();
const [buildMs, built] = await timed(async () => { const s = LocalSearch.open(store); await s.ready; return s; });
const heapIndex = heap() - heapBefore;
row('index built from the store (read in batches of 2,000 + indexed)', `${ms(buildMs)}, ${built.size.toLocaleString('en')} documents, ~${mb(heapIndex)} of heap`);

// The snapshot the build saves by itself, then one of every segment timed on its own, and what a
// new message then costs to save: its segment (the newest week) only.
await waitForSnapshot(store);
for (const n of built['segments'].keys()) built['dirty'].add(n);
const [serializeMs] = await timed(() => { for (const segment of built['segments'].values()) JSON.stringify(segment); });
// (Timed alone above; the snapshot below serializes again, and writes.)
const [persistMs] = await timed(() => built.snapshot());
const meta = await store.searchRecord('meta');
let snapshotBytes = 0;
for (const n of meta.segments) {
  const saved = await store.searchRecord(`segment:${n}`);
  snapshotBytes += Buffer.byteLength(saved.index) + Buffer.byteLength(JSON.stringify(saved.conversations));
}
row(`segments (a week of messages each)`, `${built.segmentCount}, ${(built.size / built.segmentCount).toFixed(0)} messages each on average`);
row('snapshot of every segment: serialize (JSON.stringify)', ms(serializeMs));
row('snapshot of every segment: serialize + write to IndexedDB (fake-indexeddb)', ms(persistMs));
row('snapshot size', `${mb(snapshotBytes)} (${(snapshotBytes / MESSAGES).toFixed(0)} bytes per message)`);
{
  const newest = history.at(-1);
  const samples = [];
  for (let i = 0; i < 20; i += 1) {
    await store.putMessage({ ...newest, key: `one:${i}`, id: `50000000-0000-4000-8000-${String(i).padStart(12, '0')}`, clientMsgId: `one-${i}`, seq: 2e9 + i });
    samples.push((await timed(() => built.snapshot()))[0]);
  }
  samples.sort((a, b) => a - b);
  row('snapshot after a new message (its segment, the newest week): median of 20', ms(percentile(samples, 50)));
  const edits = [];
  for (let i = 0; i < 20; i += 1) {
    await store.updateMessage(`one:${i}`, (m) => ({ ...m, text: `${m.text} edited` }));
    edits.push((await timed(() => built.snapshot()))[0]);
  }
  edits.sort((a, b) => a - b);
  row('snapshot after an edit there (vacuum, then the segment): median of 20', ms(percentile(edits, 50)));
  for (let i = 0; i < 20; i += 1) await store.deleteMessage(`one:${i}`);
  await built.snapshot();
}
// Loading it back, as a page opening does.
store = await Store.open(name);
const [loadMs, loaded] = await timed(async () => { const s = LocalSearch.open(store); await s.ready; return s; });
row('index loaded from the snapshot', ms(loadMs));

// Following the history: a change is one journal record written with the message, and an update
// of the index in memory.
const CHANGES = 2000;
const fresh = Array.from({ length: CHANGES }, (_, i) => ({ ...history[i], key: `bench:${i}`, id: `40000000-0000-4000-8000-${String(i).padStart(12, '0')}`, clientMsgId: `bench-${i}`, seq: 1e9 + i }));
const [journalledMs] = await timed(async () => { for (const m of fresh) await store.putMessage(m); });
const [editedMs] = await timed(async () => { for (const m of fresh) await store.updateMessage(m.key, (x) => ({ ...x, text: `${x.text} edited` })); });
loaded.close(); // the index stops following: what is left is the store's own cost
loaded['segments'].clear();
const [plainMs] = await timed(async () => { for (const m of fresh) await store.putMessage({ ...m, text: `${m.text} again` }); });
{
  // The same writes without the journal (as before search): the messages store alone.
  const db = await openDB(`e2e-chat:${name}`);
  const [rawMs] = await timed(async () => { for (const m of fresh) await db.put('messages', { ...m, text: `${m.text} once more` }); });
  db.close();
  row('a new message stored: store + journal + index / store + journal / store alone', `${ms(journalledMs / CHANGES)} / ${ms(plainMs / CHANGES)} / ${ms(rawMs / CHANGES)}`);
  row('an edit stored (store + journal + index)', ms(editedMs / CHANGES));
}
store.close();
store = await Store.open(name);
const journalSize = (await store.searchJournal()).size;
const [replayMs, replayed] = await timed(async () => { const s = LocalSearch.open(store); await s.ready; return s; });
row(`index loaded from the snapshot + ${journalSize.toLocaleString('en')} journal entries replayed`, ms(replayMs));

// ---- queries ---------------------------------------------------------------------------------------

// Drawn from the history itself, so that most find something, as people search for what they remember.
const termsOf = (m) => words(m.text).map((w) => w.word).filter((w) => fold(w) && !/^\d+$/.test(w));
const queries = [];
while (queries.length < QUERIES) {
  const m = pick(history);
  const terms = termsOf(m);
  if (terms.length === 0) continue;
  const one = pick(terms);
  const kind = pick(['word', 'prefix', 'two words', 'typo']);
  let text;
  if (kind === 'word') text = one;
  else if (kind === 'prefix') text = one.slice(0, Math.max(2, Math.min(one.length, 2 + Math.floor(random() * 3))));
  else if (kind === 'two words') {
    if (terms.length < 2) continue;
    const i = Math.floor(random() * (terms.length - 1));
    text = `${terms[i]} ${terms[i + 1]}`;
  } else {
    if ([...one].length < 5) continue;
    text = typo(one);
  }
  queries.push({ kind, text, conversationId: m.conversationId });
}

const results = new Map();
let hits = 0;
let empty = 0;
// One untimed pass first (the JIT and caches warm, as they are in a page that searched before).
for (const q of queries.slice(0, 20)) await replayed.search(q.text);
for (const scope of ['all', 'one']) {
  for (const q of queries) {
    const [took, found] = await timed(() => replayed.search(q.text, scope === 'one' ? { conversationId: q.conversationId } : {}));
    if (found.length === 0) empty += 1;
    hits += found.length;
    for (const key of [`${q.kind}, ${scope === 'all' ? 'all conversations' : 'one conversation'}`, `every query, ${scope === 'all' ? 'all conversations' : 'one conversation'}`, 'every query']) {
      const list = results.get(key) ?? [];
      list.push(took);
      results.set(key, list);
    }
  }
}
console.log(`\n${queries.length * 2} searches (limit 20), ${(hits / (queries.length * 2)).toFixed(1)} hits on average, ${empty} found nothing`);
console.log('| queries | n | p50 | p95 | p99 | max |');
console.log('|---|---|---|---|---|---|');
for (const [key, list] of [...results].sort(([a], [b]) => a.localeCompare(b))) {
  const sorted = [...list].sort((a, b) => a - b);
  console.log(`| ${key} | ${sorted.length} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 95))} | ${ms(percentile(sorted, 99))} | ${ms(sorted.at(-1))} |`);
}
const everything = [...results.get('every query')].sort((a, b) => a - b);
const p95 = percentile(everything, 95);
console.log(`\nsearch p95 ${ms(p95)}: ${p95 < 50 ? 'under' : 'OVER'} the issue's 50 ms`);
replayed.close();
store.close();
await Store.destroy(name);

async function waitForSnapshot(s) {
  for (const started = Date.now(); !(await s.searchRecord('meta'));) {
    if (Date.now() - started > 120_000) throw new Error('no snapshot was saved after the build');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
