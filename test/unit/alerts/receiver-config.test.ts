// The receivers' operator flags: what they accept and the errors that name the flag.
import { describe, expect, it } from 'vitest';
import { DEFAULT_PAGERDUTY_EVENTS_URL, receiverSettings } from '../../../src/alerts/receiver-config.ts';
import { operatorOptions, toOperatorConfig, ConfigError } from '../../../src/operator/config.ts';
import { Command } from 'commander';

describe('receiverSettings', () => {
  it('defaults to PagerDuty\'s public endpoint and no SMTP server', () => {
    expect(receiverSettings({})).toEqual({ pagerdutyEventsUrl: DEFAULT_PAGERDUTY_EVENTS_URL });
    expect(DEFAULT_PAGERDUTY_EVENTS_URL).toBe('https://events.pagerduty.com/v2/enqueue');
  });

  it('reads smtp:// and smtps:// with their default ports, the From address and the Secret', () => {
    expect(receiverSettings({ smtpUrl: 'smtp://mail.example.com', smtpFrom: 'GoTel <gotel@example.com>', smtpSecret: 'gotel/smtp' }).smtp).toEqual({
      url: 'smtp://mail.example.com:587',
      host: 'mail.example.com',
      port: 587,
      secure: false,
      from: 'GoTel <gotel@example.com>',
      secret: { namespace: 'gotel', name: 'smtp' },
    });
    expect(receiverSettings({ smtpUrl: 'smtps://mail.example.com:2465', smtpFrom: 'gotel@example.com' }).smtp).toMatchObject({ url: 'smtps://mail.example.com:2465', port: 2465, secure: true });
    expect(receiverSettings({ smtpUrl: 'smtps://mail.example.com', smtpFrom: 'gotel@example.com' }).smtp).toMatchObject({ port: 465 });
  });

  it.each([
    [{ pagerdutyEventsUrl: 'ftp://x' }, /--pagerduty-events-url must be http\(s\)/],
    [{ smtpUrl: 'http://mail:25', smtpFrom: 'a@b.c' }, /--smtp-url must start with smtp:\/\/ or smtps:\/\//],
    [{ smtpUrl: 'smtp://user:pw@mail:25', smtpFrom: 'a@b.c' }, /--smtp-url must not hold credentials.*--smtp-secret/],
    [{ smtpUrl: 'smtp://mail:25/x', smtpFrom: 'a@b.c' }, /must be only smtp\(s\):\/\/host:port/],
    [{ smtpUrl: 'smtp://mail:25' }, /--smtp-url needs --smtp-from/],
    [{ smtpUrl: 'smtp://mail:25', smtpFrom: 'gotel' }, /--smtp-from: "gotel" is not an address/],
    [{ smtpUrl: 'smtp://mail:25', smtpFrom: 'a@b.c', smtpSecret: 'just-a-name' }, /--smtp-secret: "just-a-name" is not NS\/NAME/],
    [{ smtpUrl: 'smtp://mail:25', smtpFrom: 'a@b.c', smtpSecret: 'Bad_NS/x' }, /not a valid namespace name/],
    [{ smtpSecret: 'gotel/smtp' }, /--smtp-secret needs --smtp-url/],
    [{ smtpFrom: 'a@b.c' }, /--smtp-from needs --smtp-url/],
  ])('refuses %o', (opts, message) => {
    expect(() => receiverSettings(opts)).toThrow(message);
  });

  it('are operator flags with GOTEL_* twins, checked at start-up', () => {
    const cmd = operatorOptions(new Command().exitOverride());
    const env = { GOTEL_SMTP_URL: 'smtp://127.0.0.1:2525', GOTEL_SMTP_FROM: 'gotel@example.com', GOTEL_SMTP_SECRET: 'gotel/smtp', GOTEL_PAGERDUTY_EVENTS_URL: 'http://127.0.0.1:9/v2/enqueue' };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      cmd.parse([], { from: 'user' });
    } finally {
      for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    }
    const config = toOperatorConfig(cmd.opts());
    expect(config.receivers).toMatchObject({ pagerdutyEventsUrl: 'http://127.0.0.1:9/v2/enqueue', smtp: { url: 'smtp://127.0.0.1:2525', from: 'gotel@example.com', secret: { namespace: 'gotel', name: 'smtp' } } });
    const flags = operatorOptions(new Command()).options.map((o) => o.long);
    expect(flags).toEqual(expect.arrayContaining(['--pagerduty-events-url', '--smtp-url', '--smtp-secret', '--smtp-from']));
    expect(() => toOperatorConfig({ smtpUrl: 'smtp://mail:25' })).toThrow(ConfigError);
  });
});
