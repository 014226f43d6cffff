// A seeded generator of a realistic inbox: the boss, teammates, customers, newsletters, spam, and a few
// deliberately malformed messages (a bounce without a sender address, an undecodable subject, a body lost
// in transit). Same seed and count -> the same inbox, byte for byte.
import { prng } from './model.js';

/** An email as it arrives from the mail server: the input of `inbox.triage`. */
export interface RawEmail {
  messageId: string;
  /** `Name <address>` as in the From header. */
  from: string;
  to: string;
  subject: string;
  body: string;
  /** ISO 8601. */
  receivedAt: string;
}

export type SenderKind = 'boss' | 'teammate' | 'customer' | 'newsletter' | 'spam' | 'malformed';

export interface FixtureEmail {
  email: RawEmail;
  kind: SenderKind;
  /** True for the messages built to fail with a NonRetryableError. */
  malformed: boolean;
}

export const BOSS = { name: 'Dana Whitfield', address: 'dana.whitfield@acme.example' };
export const ME = 'Alex Moreau <alex.moreau@acme.example>';

const TEAMMATES = ['Priya Raman', 'Tom Becker', 'Mei Lin', 'Jonas Ek', 'Sara Okafor', 'Luis Ortega'];
const CUSTOMERS: Array<[string, string]> = [
  ['Hannah Cole', 'globex.example'],
  ['Raj Patel', 'initech.example'],
  ['Chloe Martin', 'umbrella.example'],
  ['Victor Hugo Silva', 'hooli.example'],
];
const NEWSLETTERS: Array<[string, string]> = [
  ['The Weekly Digest', 'digest@news.example'],
  ['DevOps Newsletter', 'newsletter@devops.example'],
  ['SaaS Webinar Series', 'events@webinars.example'],
];

const BOSS_MAIL: Array<[string, string]> = [
  ['Board deck numbers - need them ASAP', 'The board moved the review to tomorrow morning. I need the updated Q3 revenue numbers in the deck tonight. Please send them as soon as you can.'],
  ['Customer escalation: Globex outage', 'Globex called me directly about the outage on their EU tenant. Please own this immediately and send me a status update every hour.'],
  ['Urgent: sign-off on the hiring plan', 'Finance needs our sign-off on the Q3 hiring plan by end of day. Please review the attached sheet and approve or flag what is wrong.'],
  ['Can you join the investor call at 3?', 'One of the investors wants a technical deep dive on the queue migration. Could you join the call at 3pm? It should take thirty minutes.'],
  ['Re: pricing change', 'I read your note on the pricing change. Before we announce it, can you check the impact on the three largest accounts? I need it before the board meeting.'],
];
const TEAM_MAIL: Array<[string, string]> = [
  ['Sync on the migration plan', 'Can we move our sync on the migration plan to Thursday? I will update the calendar invite and the agenda.'],
  ['PR #4821 ready for review', 'The retry backoff change is ready. Please review when you have a moment; the tests are green and the benchmark numbers are in the description.'],
  ['Question about the staging database', 'Do you know who owns the staging database credentials? I am wondering whether we can rotate them this week.'],
  ['Lunch on Friday?', 'A few of us are going to the new ramen place on Friday. Let me know if you want to come along.'],
  ['Postmortem draft', 'I wrote up the postmortem for last week\'s incident. It is in the shared folder. Comments welcome before the review on Monday.'],
  ['Offsite agenda', 'Here is the agenda for the offsite. Please send any topics you want to add by Friday.'],
];
const CUSTOMER_MAIL: Array<[string, string]> = [
  ['Dashboard is down for our team', 'Since this morning the dashboard is down for everyone in our team. We get a blank page after login. This is blocking our release.'],
  ['Invoice 2024-117', 'Please find attached invoice 2024-117 for the annual plan. Payment is due by Friday. Let us know if the PO number is missing.'],
  ['How do we export audit logs?', 'Could you tell us how to export the audit logs for the last 90 days? Our compliance team needs them for the yearly review.'],
  ['Feature request: SSO groups', 'We would love to map SSO groups to roles automatically. Is this on your roadmap? It would save our admins a lot of time.'],
  ['Thanks for the quick fix', 'The patch you shipped yesterday solved the sync issue. Thanks to the whole team for the quick turnaround.'],
];
const NEWSLETTER_MAIL: Array<[string, string]> = [
  ['This week in TypeScript', 'Our weekly digest: new compiler features, a deep dive on ESM, and five libraries to watch. Unsubscribe at any time.'],
  ['Webinar: scaling task queues', 'Join our free webinar on scaling task queues with priorities and rate limits. Seats are limited. Unsubscribe here.'],
  ['Your monthly product digest', 'Here is what shipped this month across the platform. Read the full newsletter online. Unsubscribe from these emails.'],
];
const SPAM_MAIL: Array<[string, string]> = [
  ['You are a WINNER', 'Congratulations, you have been selected as the lottery winner. Claim your prize now by replying with your bank details.'],
  ['Crypto opportunity', 'Act now: a crypto fund with guaranteed returns. Wire transfer today to secure your spot. Free gift for early investors.'],
];

/** The deliberately broken ones: each fails `inbox.triage` with a NonRetryableError. */
const MALFORMED: Array<Omit<RawEmail, 'messageId' | 'to' | 'receivedAt'> & { receivedAt?: string }> = [
  { from: 'MAILER-DAEMON', subject: 'Undelivered Mail Returned to Sender', body: 'This is the mail system at host mx1.example. I am sorry to have to inform you...' },
  { from: 'Billing <billing@vendor.example>', subject: '=?utf-8?B?SW52b2ljZS###?=', body: 'Your invoice is attached.' },
  { from: 'Sam Reed <sam.reed@globex.example>', subject: 'Re: contract', body: '', receivedAt: 'yesterday-ish' },
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function address(name: string, domain: string): string {
  return `${name.toLowerCase().replace(/[^a-z]+/g, '.')}@${domain}`;
}

/**
 * A deterministic inbox of `count` emails (at least 20). About 5% come from the boss, spread through the
 * second half so that their priority visibly matters; three are malformed.
 * @example
 * const inbox = generateInbox({ count: 120, seed: 42 });
 */
export function generateInbox(options: { count?: number; seed?: number; start?: Date } = {}): FixtureEmail[] {
  const count = Math.max(20, options.count ?? 120);
  const random = prng(options.seed ?? 42);
  const start = (options.start ?? new Date('2025-03-03T07:00:00Z')).getTime();
  const bossSlots = new Set<number>();
  const bossCount = Math.max(3, Math.round(count * 0.05));
  while (bossSlots.size < bossCount) bossSlots.add(Math.floor(count / 2 + random() * (count / 2)));
  const malformedSlots = new Map<number, number>();
  for (let i = 0; i < MALFORMED.length; i++) {
    let slot: number;
    do slot = Math.floor(random() * count);
    while (bossSlots.has(slot) || malformedSlots.has(slot));
    malformedSlots.set(slot, i);
  }

  const inbox: FixtureEmail[] = [];
  for (let i = 0; i < count; i++) {
    const messageId = `<${String(i + 1).padStart(4, '0')}.${Math.floor(random() * 0xffffff).toString(16)}@mail.acme.example>`;
    const receivedAt = new Date(start + i * 47_000 + Math.floor(random() * 40_000)).toISOString();
    const base = { messageId, to: ME, receivedAt };
    const broken = malformedSlots.get(i);
    if (broken !== undefined) {
      inbox.push({ email: { ...base, ...MALFORMED[broken]! }, kind: 'malformed', malformed: true });
      continue;
    }
    let kind: SenderKind;
    let from: string;
    let mail: [string, string];
    if (bossSlots.has(i)) {
      kind = 'boss';
      from = `${BOSS.name} <${BOSS.address}>`;
      mail = pick(random, BOSS_MAIL);
    } else {
      const roll = random();
      if (roll < 0.35) {
        kind = 'teammate';
        const name = pick(random, TEAMMATES);
        from = `${name} <${address(name, 'acme.example')}>`;
        mail = pick(random, TEAM_MAIL);
      } else if (roll < 0.65) {
        kind = 'customer';
        const [name, domain] = pick(random, CUSTOMERS);
        from = `${name} <${address(name, domain)}>`;
        mail = pick(random, CUSTOMER_MAIL);
      } else if (roll < 0.88) {
        kind = 'newsletter';
        const [name, addr] = pick(random, NEWSLETTERS);
        from = `${name} <${addr}>`;
        mail = pick(random, NEWSLETTER_MAIL);
      } else {
        kind = 'spam';
        from = `Prize Department <winner${Math.floor(random() * 1000)}@lucky-draw.example>`;
        mail = pick(random, SPAM_MAIL);
      }
    }
    const [subject, text] = mail;
    const greeting = kind === 'newsletter' || kind === 'spam' ? '' : 'Hi Alex, ';
    const signOff = kind === 'newsletter' || kind === 'spam' ? '' : ` Thanks, ${from.split(' ')[0]}`;
    inbox.push({ email: { ...base, from, subject, body: `${greeting}${text}${signOff}` }, kind, malformed: false });
  }
  return inbox;
}
