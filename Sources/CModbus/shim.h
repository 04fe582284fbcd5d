// The parts of libmodbus that Swift cannot import directly: macros that expand to
// expressions (the exception errno values) and variadic calls. Everything is static inline,
// so this system-library target needs no compiled C of its own.
#ifndef FIREWATCH_CMODBUS_SHIM_H
#define FIREWATCH_CMODBUS_SHIM_H

#include <modbus/modbus.h>
#include <errno.h>

/// libmodbus reports Modbus exceptions as errno values above MODBUS_ENOBASE.
static inline int fw_modbus_enobase(void) { return MODBUS_ENOBASE; }
static inline int fw_embxilfun(void) { return EMBXILFUN; }
static inline int fw_embxiladd(void) { return EMBXILADD; }
static inline int fw_embxilval(void) { return EMBXILVAL; }
static inline int fw_embxsfail(void) { return EMBXSFAIL; }
static inline int fw_embxack(void) { return EMBXACK; }
static inline int fw_embxsbusy(void) { return EMBXSBUSY; }
static inline int fw_embxnack(void) { return EMBXNACK; }
static inline int fw_embxmempar(void) { return EMBXMEMPAR; }
static inline int fw_embxgpath(void) { return EMBXGPATH; }
static inline int fw_embxgtar(void) { return EMBXGTAR; }
static inline int fw_embbadcrc(void) { return EMBBADCRC; }
static inline int fw_embbaddata(void) { return EMBBADDATA; }
static inline int fw_embbadexc(void) { return EMBBADEXC; }
static inline int fw_embunkexc(void) { return EMBUNKEXC; }
static inline int fw_embmdata(void) { return EMBMDATA; }
static inline int fw_embbadslave(void) { return EMBBADSLAVE; }

/// errno of the calling thread, read right after a libmodbus call on the same thread.
static inline int fw_errno(void) { return errno; }
static inline void fw_clear_errno(void) { errno = 0; }

/// Version of the libmodbus the process actually loaded (not the headers it was built with).
static inline const char *fw_modbus_version(void) { return LIBMODBUS_VERSION_STRING; }

#endif
