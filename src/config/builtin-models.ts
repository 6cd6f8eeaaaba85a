/** The provider name of the built-in offline model (no network, no key). */
export const OFFLINE_PROVIDER = 'offline';
/** Registry id of the built-in offline model; always in the registry, whatever the YAML file says. */
export const OFFLINE_MODEL_ID = 'offline/echo';
/** Alias of the offline model. */
export const OFFLINE_ALIAS = 'offline';
