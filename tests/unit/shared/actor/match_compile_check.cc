// Compiled by ctest, not by the build: without PARLEY_MATCH_ALL one message type has no handler,
// and match() must refuse to compile (test actor_match_rejects_missing_handler); with it, the
// same code compiles (actor_match_accepts_all_handlers), so the first test fails for one reason.
#include <variant>

#include "shared/actor/actor.h"

namespace {
struct Ping {};
struct Pong {};
struct Added {};  // the "new message" someone forgot to handle
using Msg = std::variant<Ping, Pong, Added>;
}  // namespace

int handle(Msg& msg) {
  return parley::actor::match(
      msg, [](Ping&) { return 1; }, [](Pong&) { return 2; }
#ifdef PARLEY_MATCH_ALL
      ,
      [](Added&) { return 3; }
#endif
  );
}
