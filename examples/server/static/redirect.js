// MSAL's redirect target: hands the authorization response to the page that opened the
// popup (or the hidden renewal iframe's parent), or back to / after a full-page redirect.
msalRedirectBridge.broadcastResponseToMainFrame().catch((e) => {
  document.body.textContent = 'Sign-in could not complete: ' + (e.errorCode || e.message);
});
