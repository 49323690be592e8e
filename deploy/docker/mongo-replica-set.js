// Health check of the compose `mongodb` service, run by mongosh every few seconds.
//
// It also turns the fresh mongod into a single-node replica set: the first run on an
// empty volume finds no replica-set configuration and initiates one; every later run
// (and every restart, since the configuration lives on the volume) only checks. The
// services connect with `replicaSet=rs0`, so the check passes only once this node is
// the writable primary, not merely when mongod answers.
//
// The member is announced as `mongodb:27017`, the name other containers know it by.
// A client on the host cannot resolve that name, so from the host connect with
// mongodb://localhost:27017/?directConnection=true instead of `replicaSet=rs0`.

try {
  rs.status();
} catch (error) {
  // Any other failure (e.g. mongod started without --replSet) must stay visible.
  if (error.codeName !== "NotYetInitialized") {
    throw error;
  }
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongodb:27017" }] });
}

if (!db.hello().isWritablePrimary) {
  quit(1);
}
