/* wsc_frame.h - building Frame named tuples without a per-frame argument tuple.
 *
 * Frame is a tuple subclass without __dict__ (a NamedTuple): Frame(*args) goes through its
 * __new__, i.e. tuple.__new__(Frame, args), which allocates with Frame's tp_alloc and copies the
 * items. wsc_frame_new does exactly that allocation and fills the four items in place. frames.pyx
 * uses it only after checking at import that Frame is such a type (wsc_frame_type_ok).
 *
 * The frame is then untracked by the cyclic garbage collector, as CPython does with exact tuples
 * of atomic items: its items are bools, bytes and an Opcode member, so the only way it could be
 * part of a reference cycle is through an attribute set on an Opcode member, which lives as long
 * as the interpreter anyway. (A batch of 10,000 tracked frames costs a third of the decoding time
 * in young-generation collections that can never free anything.) Reference counting frees it.
 */
#ifndef WSC_FRAME_H
#define WSC_FRAME_H

#include <Python.h>

static int wsc_frame_type_ok(PyObject *type)
{
    PyTypeObject *t = (PyTypeObject *)type;
    return PyType_Check(type) && PyType_IsSubtype(t, &PyTuple_Type) &&
           t->tp_basicsize == PyTuple_Type.tp_basicsize && t->tp_itemsize == PyTuple_Type.tp_itemsize &&
           t->tp_alloc != NULL;
}

/* Frame(opcode, fin, rsv1, payload); opcode and payload are borrowed. */
static PyObject *wsc_frame_new(PyObject *type, PyObject *opcode, int fin, int rsv1, PyObject *payload)
{
    PyTypeObject *t = (PyTypeObject *)type;
    PyObject *frame = t->tp_alloc(t, 4);
    PyObject *flag;

    if (frame == NULL)
        return NULL;
    Py_INCREF(opcode);
    PyTuple_SET_ITEM(frame, 0, opcode);
    flag = fin ? Py_True : Py_False;
    Py_INCREF(flag);
    PyTuple_SET_ITEM(frame, 1, flag);
    flag = rsv1 ? Py_True : Py_False;
    Py_INCREF(flag);
    PyTuple_SET_ITEM(frame, 2, flag);
    Py_INCREF(payload);
    PyTuple_SET_ITEM(frame, 3, payload);
    PyObject_GC_UnTrack(frame);
    return frame;
}

#endif /* WSC_FRAME_H */
