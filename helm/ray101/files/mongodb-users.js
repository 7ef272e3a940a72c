// The reader and the writer of the jobs' database, made by the official mongo image's entrypoint
// on the first start of an empty data volume (/docker-entrypoint-initdb.d, run by mongosh against
// its temporary mongod, right after the root user). Names and passwords come from the environment
// (secretKeyRef), never from this file or argv; the entrypoint unsets every MONGO_INITDB_* variable
// before it starts the real mongod.
const env = process.env;
const database = env.MONGO_INITDB_RAY101_DATABASE;
const admin = db.getSiblingDB("admin");
for (const [who, role] of [["READER", "read"], ["WRITER", "readWrite"]]) {
  const user = env[`MONGO_INITDB_RAY101_${who}_USERNAME`];
  const pwd = env[`MONGO_INITDB_RAY101_${who}_PASSWORD`];
  if (!database || !user || !pwd) {
    throw new Error(`MONGO_INITDB_RAY101_DATABASE/${who}_USERNAME/${who}_PASSWORD are not all set`);
  }
  admin.createUser({ user, pwd, roles: [{ role, db: database }] });
  print(`ray101: user ${user} with role ${role} on ${database}`);
}
