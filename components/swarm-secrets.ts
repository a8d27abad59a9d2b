// Docker secrets for the services. A value comes from a config secret when the
// stack gives one, else from random.RandomPassword; it is a Pulumi secret end
// to end and reaches containers only as a file. Swarm secrets are immutable: a
// new value creates a new (auto-named) secret and the services roll onto it.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { SecretName } from "../topology/services";
import type { SwarmObjectRef } from "./swarm-service";

export interface SwarmSecretsArgs {
  readonly provider: docker.Provider;
}

export class SwarmSecrets extends pulumi.ComponentResource {
  private readonly secrets = new Map<SecretName, docker.Secret>();
  private readonly values = new Map<SecretName, pulumi.Output<string>>();
  private readonly provider: docker.Provider;

  constructor(name: string, args: SwarmSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:secrets:SwarmSecrets", name, {}, opts);
    this.provider = args.provider;
    this.registerOutputs({});
  }

  /** A secret from config when given, else a generated one (alphanumeric: safe in URLs and config files). */
  generated(name: SecretName, fromConfig?: pulumi.Output<string>, length = 32): docker.Secret {
    const value = fromConfig ?? new random.RandomPassword(name, { length, special: false }, { parent: this }).result;
    return this.fromValue(name, value);
  }

  fromValue(name: SecretName, value: pulumi.Input<string>): docker.Secret {
    if (this.secrets.has(name)) throw new Error(`secret ${name} is defined twice`);
    const secretValue = pulumi.secret(pulumi.output(value));
    const secret = new docker.Secret(
      name,
      {
        data: secretValue.apply((v) => Buffer.from(v, "utf8").toString("base64")),
        labels: [
          { label: "com.medianest.secret", value: name },
          { label: "com.medianest.managed-by", value: "pulumi" },
        ],
      },
      { parent: this, provider: this.provider },
    );
    this.secrets.set(name, secret);
    this.values.set(name, secretValue);
    return secret;
  }

  value(name: SecretName): pulumi.Output<string> {
    const value = this.values.get(name);
    if (!value) throw new Error(`secret ${name} was not created`);
    return value;
  }

  /** References for SwarmService (id + name of every secret created so far). */
  refs(): ReadonlyMap<SecretName, SwarmObjectRef> {
    return new Map([...this.secrets].map(([key, secret]) => [key, { id: secret.id, name: secret.name }]));
  }
}
