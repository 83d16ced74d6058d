// shim.cpp: hermes-hw's thin extern "C" bridge to a user's Ramulator 2.0 (v2.0a) build.
//
// Compiled by cffi on first use against $RAMULATOR2_ROOT/src (headers) and linked with its
// libramulator.so. It builds Ramulator's memory system from a YAML config, drives it through
// Ramulator's external-request frontend (GEM5 wrapper), and adds one controller plugin of its
// own ("HermesProbe") that counts issued commands and served writes (Ramulator gives writes no
// completion). Every entry point catches C++ exceptions; nothing is printed on stdout.
#include "shim.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "base/base.h"
#include "dram/dram.h"
#include "dram_controller/controller.h"
#include "dram_controller/plugin.h"
#include "frontend/frontend.h"
#include "memory_system/memory_system.h"

namespace {

constexpr const char* kShimVersion = "hermes-ramulator2-shim 1";
constexpr const char* kProbeName = "HermesProbe";

void write_err(char* err, int err_len, const std::string& msg) {
  if (err == nullptr || err_len <= 0) return;
  std::strncpy(err, msg.c_str(), static_cast<size_t>(err_len - 1));
  err[err_len - 1] = '\0';
}

}  // namespace

struct hr2_sim;

namespace {
// The sim whose memory system is being connected (plugins bind to it in setup()).
thread_local hr2_sim* g_binding = nullptr;
}  // namespace

struct hr2_sim {
  Ramulator::IFrontEnd* frontend = nullptr;
  Ramulator::IMemorySystem* memory = nullptr;
  Ramulator::IDRAM* dram = nullptr;
  int frontend_ratio = 1;
  int memory_ratio = 1;

  // Replay clock: step index of Ramulator's main loop and whether the frontend part of the
  // current step already ran (the memory part is still due).
  uint64_t step = 0;
  bool frontend_done = false;

  hr2_counters now{};
  hr2_counters snap{};
  std::string snap_yaml;
  bool has_snapshot = false;

  std::vector<std::string> command_names;
  std::vector<std::pair<int64_t, int64_t>> completions;
  bool log_commands = false;
  std::vector<hr2_command_record> command_log;

  bool frontend_ticks(uint64_t i) const {
    uint64_t mult = static_cast<uint64_t>(frontend_ratio) * memory_ratio;
    return ((i % mult) % memory_ratio) == 0;
  }
  bool memory_ticks(uint64_t i) const {
    uint64_t mult = static_cast<uint64_t>(frontend_ratio) * memory_ratio;
    return ((i % mult) % frontend_ratio) == 0;
  }

  void memory_tick() {
    now.cycles++;
    memory->tick();
  }

  // Finish the current step (its memory part, if any) and move to the next step.
  void finish_step() {
    if (memory_ticks(step)) memory_tick();
    step++;
    frontend_done = false;
  }

  bool offer(uint64_t addr, bool is_write, int64_t tag) {
    bool ok;
    if (is_write) {
      ok = frontend->receive_external_requests(Ramulator::Request::Type::Write,
                                               static_cast<Ramulator::Addr_t>(addr), -1,
                                               std::function<void(Ramulator::Request&)>());
    } else {
      hr2_sim* self = this;
      ok = frontend->receive_external_requests(
          Ramulator::Request::Type::Read, static_cast<Ramulator::Addr_t>(addr), -1,
          [self, tag](Ramulator::Request& req) { self->on_read_served(req, tag); });
    }
    if (ok) {
      if (is_write) now.writes++; else now.reads++;
      now.last_accept_cycle = now.cycles;
    }
    return ok;
  }

  void on_read_served(Ramulator::Request& req, int64_t tag) {
    now.reads_served++;
    int64_t latency = req.depart - req.arrive;
    // Ramulator marks a read forwarded from the write queue by depart = arrival + 1 (and its
    // arrival stays unset); it leaves those out of read_latency, and so do we.
    if (latency > 1 && req.arrive >= 0) {
      now.read_latency_sum += latency;
      if (latency > now.read_latency_max) now.read_latency_max = latency;
    } else {
      now.forwarded_reads++;
    }
    if (tag >= 0) completions.emplace_back(tag, now.cycles);
  }

  int64_t outstanding() const {
    return (now.reads - now.reads_served) + (now.writes - now.writes_served);
  }

  std::string stats_yaml() {
    YAML::Emitter emitter;
    emitter << YAML::BeginMap;
    memory->m_impl->print_stats(emitter);
    emitter << YAML::EndMap;
    return std::string(emitter.c_str());
  }

  void take_snapshot() {
    snap = now;
    snap_yaml = stats_yaml();
    has_snapshot = true;
  }
};

namespace Ramulator {

// Counts every issued command and every served write; registered with Ramulator's factory when
// the shim is loaded, appended by hr2_create to each controller's plugin list.
class HermesProbe : public IControllerPlugin, public Implementation {
  RAMULATOR_REGISTER_IMPLEMENTATION(IControllerPlugin, HermesProbe, "HermesProbe",
                                    "hermes-hw: counts issued commands and served writes.")
 private:
  hr2_sim* m_sim = nullptr;

 public:
  void init() override {}

  void setup(IFrontEnd* frontend, IMemorySystem* memory_system) override {
    m_ctrl = cast_parent<IDRAMController>();
    m_sim = g_binding;
    if (m_sim == nullptr) {
      throw ConfigurationError("HermesProbe is only usable through the hermes-hw shim");
    }
    IDRAM* dram = m_ctrl->m_dram;
    if (static_cast<int>(dram->m_commands.size()) > HR2_MAX_COMMANDS) {
      throw ConfigurationError("standard {} has more than {} commands", dram->get_name(),
                               HR2_MAX_COMMANDS);
    }
    if (m_sim->command_names.empty()) {
      for (size_t i = 0; i < dram->m_commands.size(); i++) {
        m_sim->command_names.emplace_back(dram->m_commands(static_cast<int>(i)));
      }
      m_sim->now.num_commands = static_cast<int64_t>(m_sim->command_names.size());
    }
  }

  void update(bool request_found, ReqBuffer::iterator& req_it) override {
    if (!request_found) return;
    int cmd = req_it->command;
    if (cmd >= 0 && cmd < HR2_MAX_COMMANDS) m_sim->now.commands[cmd]++;
    if (m_sim->log_commands) {
      hr2_command_record rec;
      rec.cycle = m_sim->now.cycles;
      int32_t* fields[6] = {&rec.channel, &rec.rank, &rec.bankgroup, &rec.bank, &rec.row,
                            &rec.column};
      const AddrVec_t& vec = req_it->addr_vec;
      for (size_t i = 0; i < 6; i++) *fields[i] = i < vec.size() ? vec[i] : -1;
      rec.cmd = cmd;
      m_sim->command_log.push_back(rec);
    }
    if (req_it->type_id == Request::Type::Write && cmd == req_it->final_command) {
      m_sim->now.writes_served++;
    }
  }
};

}  // namespace Ramulator

namespace {

// Runs fn with std::cout captured (Ramulator's finalize() prints its statistics there).
template <typename Fn>
void quietly(Fn&& fn) {
  std::ostringstream sink;
  std::streambuf* old = std::cout.rdbuf(sink.rdbuf());
  try {
    fn();
  } catch (...) {
    std::cout.rdbuf(old);
    throw;
  }
  std::cout.rdbuf(old);
}

}  // namespace

extern "C" {

const char* hr2_shim_version(void) { return kShimVersion; }

hr2_sim* hr2_create(const char* yaml_config, int frontend_clock_ratio, char* err, int err_len) {
  if (frontend_clock_ratio < 1) {
    write_err(err, err_len, "frontend clock_ratio must be >= 1");
    return nullptr;
  }
  auto* sim = new hr2_sim();
  try {
    YAML::Node config = YAML::Load(yaml_config);
    if (!config.IsMap() || !config["MemorySystem"] || !config["MemorySystem"].IsMap()) {
      throw std::runtime_error("the config has no MemorySystem block");
    }
    YAML::Node mem = config["MemorySystem"];
    if (!mem["Controller"] || !mem["Controller"].IsMap()) {
      throw std::runtime_error("MemorySystem has no Controller block");
    }
    YAML::Node ctrl = mem["Controller"];
    YAML::Node probe;
    probe["ControllerPlugin"]["impl"] = kProbeName;
    if (!ctrl["plugins"]) ctrl["plugins"] = YAML::Node(YAML::NodeType::Sequence);
    ctrl["plugins"].push_back(probe);

    YAML::Node frontend;
    frontend["impl"] = "GEM5";
    frontend["clock_ratio"] = frontend_clock_ratio;
    config["Frontend"] = frontend;

    sim->frontend_ratio = frontend_clock_ratio;
    sim->frontend = Ramulator::Factory::create_frontend(config);
    sim->memory = Ramulator::Factory::create_memory_system(config);
    g_binding = sim;
    try {
      sim->frontend->connect_memory_system(sim->memory);
      sim->memory->connect_frontend(sim->frontend);
    } catch (...) {
      g_binding = nullptr;
      throw;
    }
    g_binding = nullptr;
    sim->memory_ratio = sim->memory->get_clock_ratio();
    if (sim->memory_ratio < 1) throw std::runtime_error("MemorySystem.clock_ratio must be >= 1");
    sim->dram = sim->memory->get_ifce<Ramulator::IDRAM>();
    if (sim->command_names.empty()) {
      throw std::runtime_error("the HermesProbe plugin was not set up (no controller?)");
    }
  } catch (const std::exception& e) {
    write_err(err, err_len, e.what());
    // Ramulator's objects have no cleanup logic of their own; freeing a half-built tree is not
    // safe, so a failed create leaks it (a few kB).
    sim->frontend = nullptr;
    sim->memory = nullptr;
    delete sim;
    return nullptr;
  }
  return sim;
}

void hr2_destroy(hr2_sim* sim) {
  if (sim == nullptr) return;
  try {
    quietly([&] {
      sim->memory->finalize();
    });
  } catch (...) {
    // finalize only writes plugin outputs; nothing to report at teardown
  }
  delete sim->memory;
  delete sim->frontend;
  delete sim;
}

int hr2_memory_clock_ratio(const hr2_sim* sim) { return sim->memory_ratio; }

uint64_t hr2_capacity_bytes(const hr2_sim* sim) {
  uint64_t cap = 1;
  for (int n : sim->dram->m_organization.count) cap *= static_cast<uint64_t>(n);
  return cap * static_cast<uint64_t>(sim->dram->m_channel_width) / 8;
}

double hr2_tck_ns(const hr2_sim* sim) { return sim->memory->get_tCK(); }

int hr2_num_commands(const hr2_sim* sim) { return static_cast<int>(sim->command_names.size()); }

const char* hr2_command_name(const hr2_sim* sim, int i) {
  if (i < 0 || i >= static_cast<int>(sim->command_names.size())) return "";
  return sim->command_names[i].c_str();
}

int hr2_send(hr2_sim* sim, uint64_t addr, int is_write, int64_t tag, char* err, int err_len) {
  try {
    return sim->offer(addr, is_write != 0, tag) ? 1 : 0;
  } catch (const std::exception& e) {
    write_err(err, err_len, e.what());
    return -1;
  }
}

int hr2_tick(hr2_sim* sim, int64_t n, char* err, int err_len) {
  try {
    int64_t target = sim->now.cycles + n;
    while (sim->now.cycles < target) sim->finish_step();
  } catch (const std::exception& e) {
    write_err(err, err_len, e.what());
    return -1;
  }
  return 0;
}

int64_t hr2_cycle(const hr2_sim* sim) { return sim->now.cycles; }

int64_t hr2_run_trace(hr2_sim* sim, const uint64_t* addr, const uint8_t* is_write,
                      const int64_t* arrival, int64_t n, int64_t base_tag, int record,
                      char* err, int err_len) {
  if (n <= 0) return 0;
  try {
    int64_t k = 0;
    for (;;) {
      if (!sim->frontend_done) {
        if (sim->frontend_ticks(sim->step) &&
            (arrival == nullptr || sim->now.cycles >= arrival[k])) {
          if (sim->offer(addr[k], is_write[k] != 0, record ? base_tag + k : -1)) k++;
        }
        sim->frontend_done = true;
        if (k == n) break;  // Ramulator stops before this step's memory cycle
      }
      sim->finish_step();
    }
    return n;
  } catch (const std::exception& e) {
    write_err(err, err_len, e.what());
    return -1;
  }
}

int64_t hr2_drain(hr2_sim* sim, int64_t max_cycles, char* err, int err_len) {
  try {
    int64_t limit = sim->now.cycles + max_cycles;
    while (sim->outstanding() > 0) {
      if (sim->now.cycles >= limit) {
        write_err(err, err_len, "requests still outstanding after max_cycles");
        return -1;
      }
      sim->finish_step();
    }
  } catch (const std::exception& e) {
    write_err(err, err_len, e.what());
    return -1;
  }
  return sim->now.cycles;
}

int64_t hr2_outstanding(const hr2_sim* sim) { return sim->outstanding(); }

void hr2_set_command_log(hr2_sim* sim, int on) { sim->log_commands = on != 0; }

int64_t hr2_command_count(const hr2_sim* sim) {
  return static_cast<int64_t>(sim->command_log.size());
}

int64_t hr2_take_commands(hr2_sim* sim, hr2_command_record* out, int64_t max) {
  int64_t count = std::min<int64_t>(max, static_cast<int64_t>(sim->command_log.size()));
  std::copy(sim->command_log.begin(), sim->command_log.begin() + count, out);
  sim->command_log.erase(sim->command_log.begin(), sim->command_log.begin() + count);
  return count;
}

int64_t hr2_completion_count(const hr2_sim* sim) {
  return static_cast<int64_t>(sim->completions.size());
}

int64_t hr2_take_completions(hr2_sim* sim, int64_t* tags, int64_t* cycles, int64_t max) {
  int64_t count = std::min<int64_t>(max, static_cast<int64_t>(sim->completions.size()));
  for (int64_t i = 0; i < count; i++) {
    tags[i] = sim->completions[i].first;
    cycles[i] = sim->completions[i].second;
  }
  sim->completions.erase(sim->completions.begin(), sim->completions.begin() + count);
  return count;
}

int hr2_mark_snapshot(hr2_sim* sim, char* err, int err_len) {
  try {
    sim->take_snapshot();
  } catch (const std::exception& e) {
    write_err(err, err_len, e.what());
    return -1;
  }
  return 0;
}

int hr2_get_counters(const hr2_sim* sim, int which, hr2_counters* out) {
  if (which == 1) {
    if (!sim->has_snapshot) return 0;
    *out = sim->snap;
    return 1;
  }
  *out = sim->now;
  return 1;
}

int64_t hr2_stats_yaml(hr2_sim* sim, int which, char* buf, int64_t buflen) {
  std::string text;
  if (which == 1) {
    if (!sim->has_snapshot) return -1;
    text = sim->snap_yaml;
  } else {
    try {
      text = sim->stats_yaml();
    } catch (...) {
      return -1;
    }
  }
  int64_t len = static_cast<int64_t>(text.size());
  if (buf != nullptr && buflen > len) {
    std::memcpy(buf, text.data(), static_cast<size_t>(len));
    buf[len] = '\0';
  }
  return len;
}

}  // extern "C"
