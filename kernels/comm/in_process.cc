// In-process Communicator: ranks on threads of one process, exchanging through shared buffers.
// Why: the tensor-parallel sharding math is tested on the CPU at 2 and 4 ranks without NCCL.
// Each collective is two barrier phases: every rank publishes its pointer, then every rank reads
// all others' data (sums in rank order, so results are bit-identical across ranks), then a
// second barrier keeps buffers alive until everyone has read them.
// Depends on communicator.h.
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/comm/communicator.h"

namespace parley::kernels {
namespace {

class Group {
 public:
  explicit Group(int n) : n_(n), send_(static_cast<std::size_t>(n)) {}
  int size() const { return n_; }

  void barrier() {
    std::unique_lock<std::mutex> lock(mu_);
    const std::uint64_t gen = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }
  void publish(int rank, const float* p, std::int64_t count) {
    std::lock_guard<std::mutex> lock(mu_);
    send_[static_cast<std::size_t>(rank)] = {p, count};
  }
  struct Slot {
    const float* p = nullptr;
    std::int64_t count = 0;
  };
  Slot slot(int rank) {
    std::lock_guard<std::mutex> lock(mu_);
    return send_[static_cast<std::size_t>(rank)];
  }

 private:
  const int n_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  std::uint64_t generation_ = 0;
  std::vector<Slot> send_;
};

class InProcessCommunicator final : public Communicator {
 public:
  InProcessCommunicator(std::shared_ptr<Group> g, int rank) : group_(std::move(g)), rank_(rank) {}
  int rank() const override { return rank_; }
  int world_size() const override { return group_->size(); }

  Status all_reduce_sum(float* data, std::int64_t count, const ExecContext&) override {
    if (count < 0 || (count > 0 && data == nullptr)) return invalid_argument("all_reduce_sum: bad buffer");
    // Copy own input first: other ranks read it while this rank overwrites `data`.
    std::vector<float> mine(data, data + count);
    group_->publish(rank_, mine.data(), count);
    group_->barrier();
    Status st = Status::ok();
    for (int r = 0; r < world_size(); ++r) {
      if (group_->slot(r).count != count) st = invalid_argument("all_reduce_sum: ranks passed different counts");
    }
    if (st.is_ok()) {
      for (std::int64_t i = 0; i < count; ++i) data[i] = 0.0f;
      for (int r = 0; r < world_size(); ++r) {
        const float* src = group_->slot(r).p;
        for (std::int64_t i = 0; i < count; ++i) data[i] += src[i];
      }
    }
    group_->barrier();
    return st;
  }

  Status all_gather(const float* send, float* recv, std::int64_t count, const ExecContext&) override {
    if (count < 0 || (count > 0 && (send == nullptr || recv == nullptr))) return invalid_argument("all_gather: bad buffer");
    group_->publish(rank_, send, count);
    group_->barrier();
    Status st = Status::ok();
    for (int r = 0; r < world_size(); ++r) {
      const Group::Slot s = group_->slot(r);
      if (s.count != count) {
        st = invalid_argument("all_gather: ranks passed different counts");
        break;
      }
      if (count > 0) std::memmove(recv + r * count, s.p, static_cast<std::size_t>(count) * sizeof(float));
    }
    group_->barrier();
    return st;
  }

 private:
  std::shared_ptr<Group> group_;
  int rank_;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> make_in_process_group(int world_size) {
  std::vector<std::unique_ptr<Communicator>> out;
  if (world_size <= 0) return out;
  auto group = std::make_shared<Group>(world_size);
  for (int r = 0; r < world_size; ++r) out.push_back(std::make_unique<InProcessCommunicator>(group, r));
  return out;
}

}  // namespace parley::kernels
