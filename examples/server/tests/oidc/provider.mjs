// A real OpenID Connect provider (npm `oidc-provider`) dressed as one Entra ID v2 tenant,
// for tests/browser.rs. Not a mock of our server: MSAL.js in Chromium talks to it exactly
// as it would to login.microsoftonline.com in OIDC protocol mode.
//
//   node provider.mjs   with the environment:
//     OIDC_CERT, OIDC_KEY    PEM leaf certificate and key for https (made per test run)
//     OIDC_TENANT            the directory id: issuer https://127.0.0.1:<port>/<tenant>/v2.0
//     OIDC_CLIENT_ID         the SPA's and API's client id (the token's `aud`)
//     OIDC_REDIRECT_URIS     space-separated redirect URIs of the SPA
//     OIDC_ACCESS_TOKEN_TTL  seconds (default 120: below MSAL's 300 s renewal offset, so
//                            every acquireTokenSilent renews with the refresh token)
//
// It prints one line `listening <port>` once it serves, then one line per issued access
// token `access_token uti=<uti> exp=<exp>` for the test to follow.
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
};
const tenant = env('OIDC_TENANT');
const clientId = env('OIDC_CLIENT_ID');
const redirectUris = env('OIDC_REDIRECT_URIS').split(' ').filter(Boolean);
const accessTokenTtl = Number(env('OIDC_ACCESS_TOKEN_TTL', '120'));
const resource = `api://${clientId}`;
const apiScope = `${resource}/access_as_user`;

// One signed-in person of the directory. The object id is stable, as Entra ID's is.
const person = {
  sub: 'ada',
  oid: '0b5e7a52-2b8e-4b47-9d5c-6a1f2e3d4c5b',
  name: 'Ada Lovelace',
  preferred_username: 'ada@contoso.example',
  roles: ['Erp.Clerk'],
};

const server = https.createServer({ cert: fs.readFileSync(env('OIDC_CERT')), key: fs.readFileSync(env('OIDC_KEY')) });
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `https://127.0.0.1:${port}/${tenant}/v2.0`;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };

  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    clients: [{
      client_id: clientId,
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
      post_logout_redirect_uris: redirectUris,
    }],
    pkce: { required: () => true },
    // Entra ID issues refresh tokens to SPAs without a consent prompt.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    claims: { openid: ['sub', 'oid', 'tid'], profile: ['name', 'preferred_username', 'roles'] },
    findAccount: async (_ctx, sub) => (sub === person.sub ? {
      accountId: sub,
      claims: async () => ({ ...person, tid: tenant }),
    } : undefined),
    // The directory's admin consented for everyone: no consent screen.
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid profile offline_access');
      grant.addOIDCClaims(['sub', 'oid', 'tid', 'name', 'preferred_username', 'roles']);
      grant.addResourceScope(resource, apiScope);
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // MSAL names the API by its scope, as with Entra ID: no `resource` parameter.
        defaultResource: async () => resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (indicator !== resource) throw new Provider.errors.InvalidTarget();
          return {
            scope: apiScope,
            audience: clientId,
            accessTokenTTL: accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // What Entra ID puts in a delegated v2 access token.
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken') return undefined;
      return {
        ver: '2.0',
        tid: tenant,
        oid: person.oid,
        name: person.name,
        preferred_username: person.preferred_username,
        roles: person.roles,
        scp: 'access_as_user',
        azp: clientId,
        uti: token.jti,
      };
    },
    ttl: { AccessToken: accessTokenTtl, Session: 3600, Grant: 3600, RefreshToken: 3600, IdToken: 3600 },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  });
  provider.on('access_token.issued', (token) => {
    console.log(`access_token uti=${token.jti} exp=${token.exp ?? ''}`);
  });
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'introspection.error', 'end_session.error']) {
    provider.on(event, (_ctx, err) => console.error(event, err.name, err.message, err.error_description ?? ''));
  }
  // The provider sits behind the tenant path, as Entra ID's v2 endpoints do.
  const mount = `/${tenant}/v2.0`;
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith(mount)) {
      // As express's app.use(mount, ...) does: the provider learns its mount path from
      // the difference between originalUrl and url.
      req.originalUrl = req.url;
      req.url = req.url.slice(mount.length) || '/';
      if (req.method === 'POST' && req.url.startsWith('/token')) {
        // Entra ID grants SPAs `offline_access` without a consent prompt; oidc-provider
        // drops it from such an authorization (OpenID Connect Core 11), so MSAL's renewal
        // asking for it again would be refused. Ask for what was granted instead.
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          const body = new URLSearchParams(Buffer.concat(chunks).toString());
          if (body.get('grant_type') === 'refresh_token' && body.has('scope')) {
            body.set('scope', body.get('scope').split(' ').filter((s) => s !== 'offline_access').join(' '));
          }
          req.body = Object.fromEntries(body);
          callback(req, res);
        });
        return;
      }
      callback(req, res);
    } else {
      res.writeHead(404).end();
    }
  });
  console.log(`listening ${port}`);
});
