/*
 * policy.c - which resident page to evict: two FIFO lists and the refault
 * distance.
 *
 * Userspace cannot read a page's accessed bit, and a resident page's reads
 * are invisible to the handler; what it does see is each page coming back.
 * So, like the kernel's workingset detection:
 *   - a page faulted in for the first time (or long after it was dropped)
 *     joins the tail of the inactive list;
 *   - a page that refaults soon after it was evicted (fewer than
 *     max_resident evictions since, its "refault distance") would have stayed
 *     resident in a larger inactive list: it joins the active list;
 *   - the active list may hold at most 3/4 of the budget; past that, its
 *     oldest page moves to the inactive tail (it gets one more round);
 *   - the victim is the inactive head, or the active head when the inactive
 *     list is empty.
 * A hot set that fits in 3/4 of the budget therefore stays resident after
 * its first refault, and faults after warm-up are almost all cold pages.
 * Cost: 12 bytes per page (links and eviction time) and O(1) per operation.
 * Caller holds z->lock for every function here.
 */
#include "zsswap_internal.h"

void zsswap_list_remove(struct zsswap *z, uint32_t idx)
{
	struct zsswap_page *p = &z->pages[idx];
	struct zsswap_fifo *f = &z->lists[p->list];

	if (p->list == ZSSWAP_LIST_NONE)
		return;
	if (p->prev != ZSSWAP_NONE)
		z->pages[p->prev].next = p->next;
	else
		f->head = p->next;
	if (p->next != ZSSWAP_NONE)
		z->pages[p->next].prev = p->prev;
	else
		f->tail = p->prev;
	f->count--;
	p->list = ZSSWAP_LIST_NONE;
	p->prev = p->next = ZSSWAP_NONE;
}

void zsswap_list_push(struct zsswap *z, uint32_t idx, enum zsswap_list list)
{
	struct zsswap_page *p = &z->pages[idx];
	struct zsswap_fifo *f = &z->lists[list];

	zsswap_list_remove(z, idx);
	p->list = (uint8_t)list;
	p->next = ZSSWAP_NONE;
	p->prev = f->tail;
	if (f->tail != ZSSWAP_NONE)
		z->pages[f->tail].next = idx;
	else
		f->head = idx;
	f->tail = idx;
	f->count++;
}

static uint64_t budget_pages(const struct zsswap *z)
{
	return z->max_resident_pages ? z->max_resident_pages : z->nr_pages;
}

void zsswap_policy_admit(struct zsswap *z, uint32_t idx, bool refault)
{
	uint32_t distance = z->evictions - z->pages[idx].evicted_at;

	if (refault && distance <= budget_pages(z))
		zsswap_list_push(z, idx, ZSSWAP_LIST_ACTIVE);
	else
		zsswap_list_push(z, idx, ZSSWAP_LIST_INACTIVE);
}

uint32_t zsswap_policy_victim(struct zsswap *z)
{
	struct zsswap_fifo *active = &z->lists[ZSSWAP_LIST_ACTIVE];
	struct zsswap_fifo *inactive = &z->lists[ZSSWAP_LIST_INACTIVE];
	uint64_t active_cap = budget_pages(z) * 3 / 4;

	while (active->count > active_cap)
		zsswap_list_push(z, active->head, ZSSWAP_LIST_INACTIVE);
	if (inactive->count)
		return inactive->head;
	return active->head; /* ZSSWAP_NONE when nothing is resident */
}
