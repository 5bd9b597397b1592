"""Microsoft identity (MSAL) and the Graph mail client (httpx): typed models, errors, limits."""
