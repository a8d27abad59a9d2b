// What a secret looks like by its variable name or its value: the no-plaintext-secrets
// policy and the config's extra app settings refuse the same things.

const SECRET_NAME = /PASSWORD|PASSWD|TOKEN|SECRET|_KEY$|_KEY_|PRIVATE|CREDENTIAL/;
const SECRET_VALUE = /-----BEGIN [A-Z ]*PRIVATE KEY-----|SWMTKN-|SWMKEY-|^(ghp|gho|xox[abp])_/;

export const looksLikeSecretName = (name: string): boolean => SECRET_NAME.test(name);
export const looksLikeSecretValue = (value: string): boolean => SECRET_VALUE.test(value);
