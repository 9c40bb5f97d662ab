// E-mail: the message GoTel renders, how SMTP errors are classified, and sending through a
// loopback SMTP server (smtp-server) with STARTTLS and AUTH.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry, Reservation } from '../../../src/api/reservation.ts';
import { classifySmtpError, sendEmail, type EmailDelivery } from '../../../src/alerts/email.ts';
import { parseSmtpUrl } from '../../../src/alerts/receiver-config.ts';
import { renderEmail } from '../../../src/alerts/render.ts';
import { startSmtpReceiver, type SmtpReceiver } from '../../fixtures/smtp-receiver.ts';

function reservation(): Reservation {
  return {
    apiVersion: 'gotel.io/v1alpha1',
    kind: 'Reservation',
    metadata: { name: 'billing-export', namespace: 'data' },
    spec: { every: '1h', grace: '5m', owner: 'data-team@example.com', alertMessage: 'Call <b>{owner}</b>' },
    status: { state: 'Failed', checkins: 3, lastCheckin: { time: '2026-03-10T01:05:00Z', signal: 'fail', exitCode: 3, message: 'disk full\n<script>x</script>' }, lastResult: { outcome: 'Failed', time: '2026-03-10T01:05:00Z', exitCode: 3 } },
  };
}

const failed: OutboxEntry = { id: 'e7-alert-Failed', kind: 'alert', reason: 'Failed', dueTime: '2026-03-10T01:05:00Z', createdTime: '2026-03-10T01:05:01Z', message: 'data/billing-export Failed' };

describe('renderEmail', () => {
  it('names the reservation and the reason in the subject, and carries the same facts as Slack in both bodies', () => {
    const mail = renderEmail(reservation(), failed, { clusterName: 'prod' });
    expect(mail.subject).toBe('[GoTel] Failed: data/billing-export failed with exit code 3');
    expect(mail.text).toContain('Reservation:   data/billing-export');
    expect(mail.text).toContain('Exit code:     3');
    expect(mail.text).toContain('Owner:         data-team@example.com');
    expect(mail.text).toContain('  disk full\n  <script>x</script>');
    expect(mail.text).toContain('Call <b>data-team@example.com</b>');
    expect(mail.text).toContain('GoTel · cluster prod · alert e7-alert-Failed');
    // HTML: the same content, escaped (a job's message cannot inject markup).
    expect(mail.html).toContain('data/billing-export failed with exit code 3');
    expect(mail.html).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(mail.html).toContain('Call &lt;b&gt;data-team@example.com&lt;/b&gt;');
    expect(mail.html).not.toContain('<script>');
    expect(mail.headers).toEqual({ 'X-GoTel-Reservation': 'data/billing-export', 'X-GoTel-Kind': 'alert', 'X-GoTel-Reason': 'Failed' });
  });

  it('says Recovered for a recovery', () => {
    const mail = renderEmail(reservation(), { ...failed, id: 'e8-recovery-Failed', kind: 'recovery' });
    expect(mail.subject).toBe('[GoTel] Recovered: data/billing-export is healthy again (was Failed)');
    expect(mail.text).toContain('Recovered at:');
  });
});

describe('classifySmtpError', () => {
  const smtp = (responseCode: number, response: string, code = 'EENVELOPE'): Error => Object.assign(new Error(response), { responseCode, response, code });
  it.each([
    ['421 service not available', 'transient', smtp(421, '421 4.3.2 Service not available', 'EPROTOCOL'), /SMTP 421 4\.3\.2 Service not available \(the server is not available now\)/],
    ['451 local error at DATA', 'transient', smtp(451, '451 4.3.0 Try again later', 'EMESSAGE'), /SMTP 451/],
    ['454 temporary auth failure', 'transient', smtp(454, '454 4.7.0 Temporary authentication failure', 'EAUTH'), /SMTP 454/],
    ['550 mailbox unavailable', 'permanent', smtp(550, '550 5.1.1 No such user'), /SMTP 550 5\.1\.1 No such user \(the mailbox is unavailable\)/],
    ['535 authentication failed', 'permanent', smtp(535, '535 Authentication credentials invalid', 'EAUTH'), /535.*refused the username and password of --smtp-secret/],
    ['554 transaction failed', 'permanent', smtp(554, '554 Message rejected', 'EMESSAGE'), /SMTP 554/],
    ['a login without credentials', 'permanent', Object.assign(new Error('Missing credentials for "PLAIN"'), { code: 'EAUTH' }), /SMTP EAUTH: Missing credentials/],
    ['refused connection', 'transient', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ESOCKET' }), /^no answer: ECONNREFUSED/],
    ['a timeout', 'transient', Object.assign(new Error('Greeting never received'), { code: 'ETIMEDOUT' }), /no answer: ETIMEDOUT/],
    ['a failed TLS handshake', 'transient', Object.assign(new Error('self-signed certificate'), { code: 'ETLS' }), /no answer: ETLS \(self-signed certificate\)/],
  ])('%s is %s', (_what, kind, err, message) => {
    const outcome = classifySmtpError(err);
    expect(outcome.kind).toBe(kind);
    expect(outcome.kind !== 'delivered' && outcome.error).toMatch(message);
  });
});

describe('sendEmail against a loopback SMTP server', () => {
  let server: SmtpReceiver;
  let plain: SmtpReceiver;
  beforeAll(async () => {
    server = await startSmtpReceiver({ users: { gotel: 's3cret pass' }, refuseRecipients: { 'nobody@example.com': { code: 550, message: '5.1.1 No such user' } } });
    plain = await startSmtpReceiver({ users: { gotel: 's3cret pass' }, starttls: false });
  });
  afterAll(async () => {
    await Promise.all([server.close(), plain.close()]);
  });
  const delivery = (over: Partial<EmailDelivery> = {}, target = server): EmailDelivery => ({
    smtp: { ...parseSmtpUrl(target.url), from: 'GoTel <gotel@example.com>', tls: { ca: target.ca } },
    to: ['ops@example.com'],
    auth: { user: 'gotel', pass: 's3cret pass' },
    ...over,
  });
  const mail = renderEmail(reservation(), failed);

  it('delivers over STARTTLS with AUTH', async () => {
    const before = server.received.length;
    expect(await sendEmail(delivery({ to: ['ops@example.com', 'lead@example.com'] }), mail, { timeoutMs: 5000 })).toMatchObject({ kind: 'delivered', status: 250 });
    const got = server.received[before]!;
    expect(got).toMatchObject({ secure: true, user: 'gotel', subject: mail.subject, from: '"GoTel" <gotel@example.com>', to: ['ops@example.com', 'lead@example.com'] });
    expect(got.envelope).toEqual({ from: 'gotel@example.com', to: ['ops@example.com', 'lead@example.com'] });
    expect(got.text).toContain('data/billing-export');
    expect(got.html).toContain('data/billing-export failed with exit code 3');
    expect(got.headers.get('x-gotel-reservation')).toBe('data/billing-export');
  });

  it('refuses a wrong password for good (535)', async () => {
    const outcome = await sendEmail(delivery({ auth: { user: 'gotel', pass: 'wrong' } }), mail, { timeoutMs: 5000 });
    expect(outcome).toMatchObject({ kind: 'permanent', status: 535 });
    expect(server.refusedLogins).toContain('gotel');
  });

  it('never sends credentials to a server that does not offer STARTTLS', async () => {
    const outcome = await sendEmail(delivery({}, plain), mail, { timeoutMs: 5000 });
    expect(outcome.kind).toBe('permanent');
    expect(outcome.kind === 'permanent' && outcome.error).toMatch(/does not offer STARTTLS/);
    expect(plain.received).toHaveLength(0);
    expect(plain.refusedLogins).toHaveLength(0);
    expect(plain.sessions.every((s) => !s.user)).toBe(true);
  });

  it('does not trust a certificate it cannot verify (transient: fix the CA and it goes out)', async () => {
    const d = delivery();
    const outcome = await sendEmail({ ...d, smtp: { ...d.smtp, tls: {} } }, mail, { timeoutMs: 5000 });
    expect(outcome.kind).toBe('transient');
    expect(outcome.kind === 'transient' && outcome.error).toMatch(/certificate/);
  });

  it('is permanent when the mailbox is unavailable (550), naming it', async () => {
    const outcome = await sendEmail(delivery({ to: ['nobody@example.com'] }), mail, { timeoutMs: 5000 });
    expect(outcome).toMatchObject({ kind: 'permanent', status: 550 });
    expect(outcome.kind === 'permanent' && outcome.error).toContain('No such user');
  });

  it('is permanent when one recipient of several is refused, naming who got it', async () => {
    const outcome = await sendEmail(delivery({ to: ['ops@example.com', 'nobody@example.com'] }), mail, { timeoutMs: 5000 });
    expect(outcome.kind).toBe('permanent');
    expect(outcome.kind === 'permanent' && outcome.error).toMatch(/refused nobody@example\.com .*No such user.*delivered to ops@example\.com/);
  });

  it('is transient on a 4xx reply (451 at DATA)', async () => {
    server.script([{ code: 451, message: '4.3.0 Try again later' }]);
    expect(await sendEmail(delivery(), mail, { timeoutMs: 5000 })).toMatchObject({ kind: 'transient', status: 451 });
  });

  it('without credentials, still upgrades with STARTTLS when offered', async () => {
    const open = await startSmtpReceiver();
    try {
      expect(await sendEmail(delivery({ auth: undefined }, open), mail, { timeoutMs: 5000 })).toMatchObject({ kind: 'delivered' });
      expect(open.received[0]).toMatchObject({ secure: true });
      expect(open.received[0]!.user).toBeUndefined();
    } finally {
      await open.close();
    }
  });
});
